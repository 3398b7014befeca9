package testenv

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// AMQP returns SWITCHYARD_TEST_AMQP_URL (a RabbitMQ broker), or skips.
func AMQP(t testing.TB) string {
	t.Helper()
	u := os.Getenv("SWITCHYARD_TEST_AMQP_URL")
	if u == "" {
		t.Skip("set SWITCHYARD_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ to run against RabbitMQ")
	}
	return u
}

// S3 returns SWITCHYARD_TEST_S3_URL (an S3-compatible store that takes
// anonymous requests; .ci/run builds SeaweedFS from its Go module and
// starts its S3 gateway) and a new bucket on it, emptied and removed when
// the test ends; or skips.
func S3(t testing.TB) (endpoint, bucket string) {
	t.Helper()
	endpoint = os.Getenv("SWITCHYARD_TEST_S3_URL")
	if endpoint == "" {
		t.Skip("set SWITCHYARD_TEST_S3_URL=http://127.0.0.1:8333 (a running S3 gateway; see .ci/run) to run against object storage")
	}
	cl := S3Client(t, endpoint)
	bucket = strings.ReplaceAll(name(), "_", "-")
	if err := cl.MakeBucket(t.Context(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("creating bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for obj := range cl.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err == nil {
				_ = cl.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{})
			}
		}
		_ = cl.RemoveBucket(ctx, bucket)
	})
	return endpoint, bucket
}

// S3Client is an anonymous client of the store at endpoint, for a test
// to look at what was written.
func S3Client(t testing.TB, endpoint string) *minio.Client {
	t.Helper()
	secure := strings.HasPrefix(endpoint, "https://")
	host := strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://")
	cl, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4("", "", ""), Secure: secure,
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}
