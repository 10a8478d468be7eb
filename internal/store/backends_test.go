package store

import (
	"context"
	"testing"

	"github.com/podium-broadcast/podium/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// backend is one catalog, in SQLite or in PostgreSQL, that a test opens
// (and opens again, to see what survives a restart).
type backend struct {
	name string
	opts Options
}

// open opens the backend's catalog; the test closes it.
func (b backend) open() (*Store, error) { return OpenWith(context.Background(), b.opts) }

// newBackend makes an empty catalog for t: a data directory, or a
// database of its own on the package's PostgreSQL server.
func newBackend(t testing.TB, name string) backend {
	t.Helper()
	if name == "sqlite" {
		return backend{name: name, opts: Options{DataDir: t.TempDir()}}
	}
	return backend{name: name, opts: Options{Store: pgtest.Database(t)}}
}

// backends runs test against SQLite and against PostgreSQL.
func backends(t *testing.T, test func(t *testing.T, b backend)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) { test(t, newBackend(t, name)) })
	}
}
