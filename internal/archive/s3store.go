package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config locates a bucket of an S3-compatible object store.
type S3Config struct {
	// Bucket and Prefix: segment key K is the object PREFIX/K.
	Bucket, Prefix string
	// Endpoint is the store's URL (http://host:port or https://host) for
	// stores other than AWS; empty for AWS S3 itself.
	Endpoint string
	// Region is the bucket's region (AWS_REGION); empty: us-east-1, or
	// whatever the store answers.
	Region string
	// AccessKey and SecretKey (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY);
	// without them the credentials of the machine's IAM role are used.
	AccessKey, SecretKey string
}

// ParseS3URL splits s3://BUCKET/PREFIX; ok is false for anything else.
func ParseS3URL(s string) (bucket, prefix string, ok bool, err error) {
	rest, found := strings.CutPrefix(s, "s3://")
	if !found {
		return "", "", false, nil
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", true, fmt.Errorf("archive %q: no bucket (s3://BUCKET/PREFIX)", s)
	}
	return bucket, strings.Trim(prefix, "/"), true, nil
}

// S3Store keeps segments in an S3-compatible bucket, read with ranged GETs.
type S3Store struct {
	cfg    S3Config
	client *minio.Core
	prefix string // "" or "PREFIX/"
}

// s3Timeout bounds one request without a deadline of its own: a store that
// hangs fails the request, and the spool retries it.
const s3Timeout = 30 * time.Second

// NewS3Store returns a store on cfg's bucket. It does not reach the store:
// Podium starts, and records into its spool, while object storage is down.
func NewS3Store(cfg S3Config) (*S3Store, error) {
	host, secure := "s3.amazonaws.com", true
	lookup := minio.BucketLookupAuto
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("s3 endpoint %q: want http://HOST:PORT or https://HOST", cfg.Endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
		// Path-style requests: an endpoint named by address has no
		// per-bucket host names.
		lookup = minio.BucketLookupPath
	}
	creds := credentials.NewIAM("")
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
	}
	client, err := minio.NewCore(host, &minio.Options{Creds: creds, Secure: secure, Region: cfg.Region,
		BucketLookup: lookup, Transport: transport, MaxRetries: 1})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	s := &S3Store{cfg: cfg, client: client}
	if cfg.Prefix != "" {
		s.prefix = strings.Trim(cfg.Prefix, "/") + "/"
	}
	return s, nil
}

// Check asks the store whether the bucket exists, for a clear word at start.
func (s *S3Store) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: %w", s.cfg.Bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3 bucket %s does not exist", s.cfg.Bucket)
	}
	return nil
}

// Put implements SegmentStore with one PUT: segments are a few MB.
func (s *S3Store) Put(ctx context.Context, key, path string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.client.Client.FPutObject(ctx, s.cfg.Bucket, s.prefix+key, path,
		minio.PutObjectOptions{ContentType: "video/mp2t", DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("upload segment %s: %w", key, err)
	}
	return nil
}

// Open implements SegmentStore: one HEAD for the size; reads are ranged GETs.
func (s *S3Store) Open(ctx context.Context, key string) (Object, error) {
	hctx, cancel := withTimeout(ctx)
	defer cancel()
	info, err := s.client.Client.StatObject(hctx, s.cfg.Bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("open segment %s: %w", key, notExist(err))
	}
	return &s3Object{ctx: ctx, store: s, key: key, size: info.Size}, nil
}

// notExist marks the store's "no such key" as fs.ErrNotExist.
func notExist(err error) error {
	if code := minio.ToErrorResponse(err).Code; code == minio.NoSuchKey || code == "NotFound" {
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return err
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s3Timeout)
}

// s3Object reads one object with a ranged GET per ReadAt, within the
// context it was opened with (the request's, the job's).
type s3Object struct {
	ctx   context.Context
	store *S3Store
	key   string
	size  int64
}

func (o *s3Object) Size() int64  { return o.size }
func (o *s3Object) Close() error { return nil }

func (o *s3Object) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), o.size-off)
	if want == 0 {
		return 0, nil
	}
	ctx, cancel := withTimeout(o.ctx)
	defer cancel()
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+want-1); err != nil {
		return 0, err
	}
	body, _, _, err := o.store.client.GetObject(ctx, o.store.cfg.Bucket, o.store.prefix+o.key, opts)
	if err != nil {
		return 0, fmt.Errorf("read segment %s: %w", o.key, notExist(err))
	}
	defer body.Close()
	n, err := io.ReadFull(body, p[:want])
	if err != nil {
		return n, fmt.Errorf("read segment %s at %d: %w", o.key, off, err)
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// Delete implements SegmentStore.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	err := s.client.Client.RemoveObject(ctx, s.cfg.Bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err != nil && !errors.Is(notExist(err), fs.ErrNotExist) {
		return fmt.Errorf("delete segment %s: %w", key, err)
	}
	return nil
}

// List implements SegmentStore.
func (s *S3Store) List(ctx context.Context, prefix string, fn func(key string, size int64) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.client.Client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("list segments %s: %w", prefix, obj.Err)
		}
		if err := fn(strings.TrimPrefix(obj.Key, s.prefix), obj.Size); err != nil {
			if errors.Is(err, ErrStopList) {
				return nil
			}
			return err
		}
	}
	return ctx.Err()
}

// String implements SegmentStore.
func (s *S3Store) String() string {
	return "s3://" + s.cfg.Bucket + "/" + strings.TrimSuffix(s.prefix, "/")
}
