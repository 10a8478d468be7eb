package archive

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/podium-broadcast/podium/internal/s3test"
)

// newS3Store starts versitygw with one bucket and returns a store on it.
func newS3Store(t testing.TB) (*S3Store, *s3test.Server) {
	t.Helper()
	srv := s3test.Start(t, "podium")
	s, err := NewS3Store(S3Config{Bucket: "podium", Prefix: "archive", Endpoint: srv.Endpoint,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, srv
}

// TestSegmentStores runs the same checks on the local store and on S3:
// what is put reads back whole and by range, lists in key order under a
// prefix, and deletes; a missing key is fs.ErrNotExist.
func TestSegmentStores(t *testing.T) {
	stores := map[string]func(t *testing.T) SegmentStore{
		"local": func(t *testing.T) SegmentStore { return LocalStore{Dir: t.TempDir()} },
		"s3": func(t *testing.T) SegmentStore {
			s, _ := newS3Store(t)
			return s
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := newStore(t)
			data := make([]byte, 3<<20+1234)
			rand.Read(data)
			src := filepath.Join(t.TempDir(), "seg.ts")
			if err := os.WriteFile(src, data, 0o600); err != nil {
				t.Fatal(err)
			}
			keys := []string{"f/2028/07/14/20/0000000002.ts", "f/2028/07/14/20/0000000001.ts", "g/2028/07/14/20/0000000001.ts"}
			for _, k := range keys {
				if err := store.Put(ctx, k, src); err != nil {
					t.Fatal(err)
				}
			}
			obj, err := store.Open(ctx, keys[0])
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			if obj.Size() != int64(len(data)) {
				t.Fatalf("size %d, want %d", obj.Size(), len(data))
			}
			part := make([]byte, 1000)
			if _, err := obj.ReadAt(part, 2<<20); err != nil || !bytes.Equal(part, data[2<<20:2<<20+1000]) {
				t.Fatalf("range read: %v", err)
			}
			whole, err := io.ReadAll(NewObjectReader(obj, 0, obj.Size()))
			if err != nil || !bytes.Equal(whole, data) {
				t.Fatalf("read whole: %d bytes, %v", len(whole), err)
			}
			var listed []string
			if err := store.List(ctx, "f/", func(k string, size int64) error {
				if size != int64(len(data)) {
					t.Errorf("%s listed with %d bytes", k, size)
				}
				listed = append(listed, k)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(listed) != 2 || listed[0] != keys[1] || listed[1] != keys[0] {
				t.Fatalf("listed %v under f/", listed)
			}
			if err := store.List(ctx, "", func(string, int64) error { return ErrStopList }); err != nil {
				t.Fatalf("stopped listing: %v", err)
			}
			if err := store.Delete(ctx, keys[0]); err != nil {
				t.Fatal(err)
			}
			if err := store.Delete(ctx, keys[0]); err != nil {
				t.Fatalf("deleting again: %v", err)
			}
			if _, err := store.Open(ctx, keys[0]); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("open deleted: %v, want fs.ErrNotExist", err)
			}
		})
	}
}

// BenchmarkSegmentPut puts a 4 MiB segment into each store: the upload
// throughput the spool has, against the local copy it starts from.
func BenchmarkSegmentPut(b *testing.B) {
	data := make([]byte, 4<<20)
	rand.Read(data)
	src := filepath.Join(b.TempDir(), "seg.ts")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		b.Fatal(err)
	}
	s3, _ := newS3Store(b)
	for name, store := range map[string]SegmentStore{"local": LocalStore{Dir: b.TempDir()}, "s3": s3} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				if err := store.Put(context.Background(), fmt.Sprintf("f/2028/07/14/20/%010d.ts", i), src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
