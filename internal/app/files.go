package app

import (
	"fmt"
	"log/slog"
	"os"
)

// checkPrivateDir refuses a directory of Podium's that other local users
// may read, write or enter: the data directory holds the catalog (SRT and
// publish passphrases), the admin token and the HLS signing key, and the
// archive directory the rights holders' content. With allowShared it
// starts anyway, with a warning at every start.
func checkPrivateDir(what, dir string, allowShared bool, log *slog.Logger) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	mode := info.Mode().Perm()
	if mode&0o077 == 0 {
		return nil
	}
	if allowShared {
		log.Warn("SECURITY: the "+what+" is open to other local users; they may read passphrases, keys and recordings from it",
			"dir", dir, "mode", fmt.Sprintf("%04o", mode), "fix", "chmod 700 "+dir)
		return nil
	}
	return fmt.Errorf("%s %s has mode %04o: other local users could read its passphrases, keys and recordings; "+
		"run chmod 700 %s (or set allow_shared_data_dir to start anyway)", what, dir, mode, dir)
}
