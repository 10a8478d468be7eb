package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// SegmentStore holds the bytes of closed segments under keys of the form
// FEED/YYYY/MM/DD/HH/SEQ.ts: a local directory (LocalStore) or an
// S3-compatible bucket (S3Store). A segment carries its key, never a path,
// so that every reader (time-shift, clips) goes through the store.
type SegmentStore interface {
	// Put stores the complete, synced local file at path under key. Once it
	// returns nil, Open(key) finds the whole file.
	Put(ctx context.Context, key, path string) error
	// Open opens key for range reads; errors.Is(err, fs.ErrNotExist) when it is not there.
	Open(ctx context.Context, key string) (Object, error)
	// Delete removes key; a key that is not there is no error.
	Delete(ctx context.Context, key string) error
	// List calls fn with every key under prefix and its size, in key
	// order, until fn returns an error: ErrStopList ends the listing
	// quietly, any other is List's.
	List(ctx context.Context, prefix string, fn func(key string, size int64) error) error
	// String names the store in logs.
	String() string
}

// Object is a stored segment open for reading. ReadAt reads exactly the
// range asked (a ranged GET on object storage); wrap it in
// NewObjectReader to read it in order.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// ErrStopList, returned by a List callback, ends the listing without error.
var ErrStopList = errors.New("stop listing")

// LocalStore keeps segments as files under a directory: key K is the file
// DIR/K. It is the archive's default store, and the archive's own spool
// directory when segments go to object storage.
type LocalStore struct{ Dir string }

// path is the file of key. Keys come from the index and the recorder, but
// a key that would leave the directory is refused all the same.
func (s LocalStore) path(key string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(key))
	if key == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("segment key %q: %w", key, fs.ErrInvalid)
	}
	return filepath.Join(s.Dir, clean), nil
}

// Put implements SegmentStore: a file already in place (the recorder
// writes there) is kept as it is; another is copied, synced and renamed in.
func (s LocalStore) Put(ctx context.Context, key, path string) error {
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	if filepath.Clean(path) == dst {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("store segment %s: %w", key, err)
	}
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store segment %s: %w", key, err)
	}
	defer src.Close()
	part := dst + ".part"
	out, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store segment %s: %w", key, err)
	}
	_, err = io.Copy(out, src)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, dst)
	}
	if err == nil {
		err = syncDir(filepath.Dir(dst))
	}
	if err != nil {
		os.Remove(part)
		return fmt.Errorf("store segment %s: %w", key, err)
	}
	return nil
}

// Open implements SegmentStore.
func (s LocalStore) Open(_ context.Context, key string) (Object, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, err
	}
	return openFileObject(path)
}

func openFileObject(path string) (Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open segment: %w", err)
	}
	return fileObject{File: f, size: info.Size()}, nil
}

// fileObject is a segment file open for reading.
type fileObject struct {
	*os.File
	size int64
}

func (o fileObject) Size() int64 { return o.size }

// Delete implements SegmentStore, removing the directories it leaves empty.
func (s LocalStore) Delete(_ context.Context, key string) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete segment %s: %w", key, err)
	}
	removeEmptyDirs(s.Dir, filepath.Dir(path))
	return nil
}

// removeEmptyDirs removes dir and its parents while they are empty, up to
// the feed's directory (the first level below root), which stays.
func removeEmptyDirs(root, dir string) {
	root = filepath.Clean(root)
	for ; len(dir) > len(root) && filepath.Dir(dir) != root; dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			return
		}
	}
}

// List implements SegmentStore. Files still being written (.part) and
// the index's own files are not segments and are left out.
func (s LocalStore) List(_ context.Context, prefix string, fn func(key string, size int64) error) error {
	// Walk from the deepest directory the prefix names, for a short walk.
	start := s.Dir
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(s.Dir, filepath.FromSlash(prefix[:i]))
	}
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".ts") {
			return nil
		}
		rel, err := filepath.Rel(s.Dir, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed while listed
		}
		return fn(key, info.Size())
	})
	if errors.Is(err, ErrStopList) {
		return nil
	}
	return err
}

// String implements SegmentStore.
func (s LocalStore) String() string { return s.Dir }

// segmentKey is the key of a feed's segment seq that starts at start.
func segmentKey(feedID string, seq int64, start time.Time) string {
	return fmt.Sprintf("%s/%s/%010d.ts", feedID, start.UTC().Format("2006/01/02/15"), seq)
}
