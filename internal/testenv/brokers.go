package testenv

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
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

// NATSServer is a real NATS server with JetStream on a loopback port, in
// process, which a test can stop and start again on the same port with
// the same store: the broker going away and coming back.
type NATSServer struct {
	t    testing.TB
	port int
	dir  string
	ns   *server.Server
}

// StartNATS starts a NATSServer, stopped when the test ends.
func StartNATS(t testing.TB) *NATSServer {
	t.Helper()
	s := &NATSServer{t: t, port: freePort(t), dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again).
func (s *NATSServer) Start() {
	s.t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: s.port, JetStream: true, StoreDir: s.dir, NoSigs: true, NoLog: true})
	if err != nil {
		s.t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("nats-server did not start")
	}
	s.ns = ns
}

// Stop stops the server, if it runs.
func (s *NATSServer) Stop() {
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.ns = nil
	}
}

// URL is the server's nats:// URL.
func (s *NATSServer) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Client is a connection to the server, closed when the test ends.
func (s *NATSServer) Client() *nats.Conn {
	s.t.Helper()
	nc, err := nats.Connect(s.URL())
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	return nc
}

// Kafka is franz-go's in-process Kafka-protocol broker (no Kafka can be
// installed here) on a loopback port, keeping its data in a directory so
// that a test can stop it and start it again with what it had.
type Kafka struct {
	t      testing.TB
	port   int
	dir    string
	topics []string
	c      *kfake.Cluster
}

// StartKafka starts a Kafka broker with topics (3 partitions each),
// stopped when the test ends.
func StartKafka(t testing.TB, topics ...string) *Kafka {
	t.Helper()
	k := &Kafka{t: t, port: freePort(t), dir: t.TempDir(), topics: topics}
	k.Start()
	t.Cleanup(k.Stop)
	return k
}

// Start starts the broker (again).
func (k *Kafka) Start() {
	k.t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(k.port), kfake.DataDir(k.dir), kfake.SyncWrites(),
		kfake.SeedTopics(3, k.topics...))
	if err != nil {
		k.t.Fatal(err)
	}
	k.c = c
}

// Stop stops the broker, if it runs.
func (k *Kafka) Stop() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
}

// Addr is the broker's host:port.
func (k *Kafka) Addr() string { return "127.0.0.1:" + strconv.Itoa(k.port) }

// Records reads topic from the start: until it has want records, or a
// second passes without one after the first, or 10 s passed.
func (k *Kafka) Records(topic string, want int) []*kgo.Record {
	k.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		k.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		recs := cl.PollFetches(ctx).Records()
		cancel()
		if len(recs) == 0 && len(out) > 0 {
			break
		}
		out = append(out, recs...)
	}
	return out
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// RabbitQueue is a fresh, server-named queue on the RabbitMQ at
// SWITCHYARD_TEST_AMQP_URL (or a skip), declared with args and deleted
// when the test ends, and a channel to read it.
type RabbitQueue struct {
	URL  string
	Name string
	Ch   *amqp091.Channel
}

// NewRabbitQueue declares a RabbitQueue.
func NewRabbitQueue(t testing.TB, args amqp091.Table) *RabbitQueue {
	t.Helper()
	u := AMQP(t)
	c, err := amqp091.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, false, false, false, args)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ch.QueueDelete(q.Name, false, false, false) })
	return &RabbitQueue{URL: u, Name: q.Name, Ch: ch}
}
