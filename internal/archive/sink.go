package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/switchyardhq/switchyard/internal/action/s3"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Sink is where archive files go: a directory or a bucket.
type Sink interface {
	// Put stores the local file as key, atomically: a reader sees the
	// whole file or none, and a second Put of the same key replaces it.
	Put(ctx context.Context, key string, local *os.File) error
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Fetch copies key into the local file.
	Fetch(ctx context.Context, key string, local *os.File) error
	// String is where the sink writes, without credentials.
	String() string
}

// S3 is how to reach the store of an s3:// archive: the settings of an
// s3 destination (endpoint, region, access_key_id, secret_access_key,
// path_style).
type S3 map[string]string

// Open returns the sink of to: file:///dir or s3://bucket/prefix (with
// store saying how to reach the bucket's store).
func Open(to string, store S3) (Sink, error) {
	u, err := url.Parse(to)
	if err != nil {
		return nil, fmt.Errorf("archive to: %w", err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("archive to: %q must be file:///absolute/dir", to)
		}
		return &dirSink{root: filepath.Clean(u.Path)}, nil
	case "s3":
		if u.Host == "" {
			return nil, fmt.Errorf("archive to: %q must be s3://bucket/prefix", to)
		}
		settings := map[string]string{"endpoint": "https://s3.amazonaws.com"}
		for k, v := range store {
			if v != "" {
				settings[k] = v
			}
		}
		// The archive's store is the operator's own, often on the private
		// network: no address guard.
		cl, err := s3.Open(settings, s3.Transport(httpclient.Dialer(true, 0)))
		if err != nil {
			return nil, err
		}
		return &bucketSink{cl: cl, bucket: u.Host, prefix: strings.Trim(u.Path, "/")}, nil
	}
	return nil, fmt.Errorf("archive to: %q must be s3://bucket/prefix or file:///dir", to)
}

// dirSink keeps files under a directory.
type dirSink struct{ root string }

func (d *dirSink) String() string { return "file://" + d.root }

func (d *dirSink) path(key string) (string, error) {
	p := filepath.Join(d.root, filepath.FromSlash(key))
	if !strings.HasPrefix(p, d.root+string(filepath.Separator)) {
		return "", fmt.Errorf("archive key %q leaves %s", key, d.root)
	}
	return p, nil
}

func (d *dirSink) Put(_ context.Context, key string, local *os.File) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".part-*")
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := local.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if _, err := io.Copy(tmp, local); err != nil {
		tmp.Close()
		return fmt.Errorf("archive: writing %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("archive: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

func (d *dirSink) List(_ context.Context, prefix string) ([]string, error) {
	// Walk only the folder the prefix names, if it names one.
	start := d.root
	if i := strings.LastIndexByte(prefix, '/'); i > 0 {
		p, err := d.path(prefix[:i])
		if err != nil {
			return nil, err
		}
		start = p
	}
	var out []string
	err := filepath.WalkDir(start, func(p string, e os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) && p == start {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".part-") {
			return nil
		}
		rel, _ := filepath.Rel(d.root, p)
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			out = append(out, key)
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

func (d *dirSink) Fetch(_ context.Context, key string, local *os.File) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	_, err = io.Copy(local, f)
	return err
}

// bucketSink keeps files in a bucket under a prefix.
type bucketSink struct {
	cl             *minio.Client
	bucket, prefix string
}

func (b *bucketSink) String() string { return "s3://" + path.Join(b.bucket, b.prefix) }

func (b *bucketSink) key(k string) string {
	if b.prefix == "" {
		return k
	}
	return b.prefix + "/" + k
}

func (b *bucketSink) Put(ctx context.Context, key string, local *os.File) error {
	st, err := local.Stat()
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if _, err := local.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if _, err := b.cl.PutObject(ctx, b.bucket, b.key(key), local, st.Size(),
		minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
		return fmt.Errorf("archive: putting %s: %w", b.key(key), err)
	}
	return nil
}

func (b *bucketSink) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	for obj := range b.cl.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: b.key(prefix), Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("archive: listing %s: %w", b, obj.Err)
		}
		k := obj.Key
		if b.prefix != "" {
			k = strings.TrimPrefix(k, b.prefix+"/")
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

func (b *bucketSink) Fetch(ctx context.Context, key string, local *os.File) error {
	obj, err := b.cl.GetObject(ctx, b.bucket, b.key(key), minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer obj.Close()
	if _, err := io.Copy(local, obj); err != nil {
		return fmt.Errorf("archive: reading %s: %w", b.key(key), err)
	}
	return nil
}
