package s3

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/action/actiontest"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

func destination(endpoint, bucket string) *action.Destination {
	return &action.Destination{ID: "lake", Kind: "s3", AllowPrivateNetwork: true,
		Settings: map[string]string{"endpoint": endpoint, "bucket": bucket, "prefix": "events/", "path_style": "true"}}
}

// An object is put under the destination's prefix with the body, content
// type and metadata the step gave; putting it again (a retry) leaves one
// object with the same bytes.
func TestPut(t *testing.T) {
	endpoint, bucket := testenv.S3(t)
	s := actiontest.New(t, Family)
	d := destination(endpoint, bucket)
	in := map[string]any{"key": "orders/o1.json", "body": map[string]any{"id": "o1"}, "metadata": map[string]any{"tenant": "acme"}}
	out := s.Deliver(t, t.Context(), d, "s3.put", in, "run1:send")
	if out["key"] != "events/orders/o1.json" || out["bucket"] != bucket || out["etag"] == "" {
		t.Fatalf("output %v", out)
	}
	s.Deliver(t, t.Context(), d, "s3.put", in, "run1:send")

	cl := testenv.S3Client(t, endpoint)
	var keys []string
	for obj := range cl.ListObjects(t.Context(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	if strings.Join(keys, ",") != "events/orders/o1.json" {
		t.Fatalf("the bucket holds %v", keys)
	}
	obj, err := cl.GetObject(t.Context(), bucket, "events/orders/o1.json", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := obj.Stat()
	if string(body) != `{"id":"o1"}` || st.ContentType != "application/json" || st.UserMetadata["Tenant"] != "acme" ||
		st.UserMetadata["Idempotency-Key"] != "run1:send" {
		t.Fatalf("object %q type %q metadata %v", body, st.ContentType, st.UserMetadata)
	}
}

// A bucket the store does not have is its refusal, not retried; while the
// store is unreachable an attempt is retried, and once it is back the
// next one succeeds.
func TestStoreAwayAndRefusals(t *testing.T) {
	endpoint, bucket := testenv.S3(t)
	s := actiontest.New(t, Family)
	a, _ := s.Send(t, t.Context(), destination(endpoint, bucket+"-missing"), "s3.put", map[string]any{"key": "x"}, "k0")
	if a.Class != httpclient.Permanent || a.Response == nil || a.Response.Status/100 != 4 { // 404, or 403 to anonymous callers
		t.Fatalf("a missing bucket: %s %+v %s", a.Class, a.Response, a.Error)
	}

	proxy := testenv.NewProxy(t, strings.TrimPrefix(endpoint, "http://"))
	d := destination("http://"+proxy.Addr(), bucket)
	d.Timeout = 2 * time.Second
	in := map[string]any{"key": "a.json"}
	s.Deliver(t, t.Context(), d, "s3.put", in, "k1")
	proxy.Cut()
	if a, _ := s.Send(t, t.Context(), d, "s3.put", in, "k2"); a.Class != httpclient.Retryable {
		t.Fatalf("with the store away: %s %s", a.Class, a.Error)
	}
	proxy.Restore()
	s.Deliver(t, t.Context(), d, "s3.put", in, "k3")
}

// Keys that would leave the prefix, and bad settings, are refused when
// checked; the secret key is a secret.
func TestRefusals(t *testing.T) {
	d := destination("https://s3.amazonaws.com", "my-bucket")
	for _, key := range []string{"", "../x", "a/../../x", "./x", strings.Repeat("k", 1020)} {
		if _, err := build(d, map[string]any{"key": key}, "k", time.Now()); err == nil {
			t.Errorf("key %q built", key)
		}
	}
	reg := action.NewRegistry(Family)
	p := reg.Check(&action.Destination{Kind: "s3", Settings: map[string]string{"endpoint": "https://s3.amazonaws.com/bucket",
		"bucket": "Bad_Bucket", "path_style": "yes", "secret_access_key": "sk"}})
	for _, k := range []string{"endpoint", "bucket", "path_style", "access_key_id"} {
		if p[k] == "" {
			t.Errorf("no problem with %s: %v", k, p)
		}
	}
	d.Settings["secret_access_key"] = "sk-123"
	if secrets := reg.Secrets(d); len(secrets) != 1 || secrets[0] != "sk-123" {
		t.Fatalf("secrets %q", secrets)
	}
}
