package harness

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sleep waits for d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SleepUntil waits until t or until ctx ends.
func SleepUntil(ctx context.Context, t time.Time) error { return Sleep(ctx, time.Until(t)) }

// ModuleRoot finds the repository root: the directory of go.mod, from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the Podium repository (no go.mod found)")
		}
		dir = parent
	}
}

// WaitUDPBound waits until a process listens on a loopback UDP port.
func WaitUDPBound(ctx context.Context, port int, c *Child) error {
	want := fmt.Sprintf(":%04X ", port)
	for range 100 {
		data, err := os.ReadFile("/proc/net/udp")
		if err != nil {
			return err
		}
		if strings.Contains(string(data), want) {
			return nil
		}
		if c.Exited() {
			return errors.New(c.Why())
		}
		if err := Sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s did not bind UDP port %d", c.Name, port)
}

// RandomWord returns a short random string, for passphrases.
func RandomWord() string { return strings.ToLower(rand.Text()[:12]) }
