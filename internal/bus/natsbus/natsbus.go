// Package natsbus is the event log on NATS JetStream: either an embedded,
// in-process nats-server (file store under the data dir, no TCP port) or an
// external cluster. Both use the same client code path.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/periodic"
)

// Options configure the log. The zero value of every field except DataDir
// (embedded) or URL (external) has a usable default.
type Options struct {
	// URL of an external NATS server; empty runs an embedded one.
	URL string
	// DataDir is where the embedded server keeps its file store.
	DataDir string
	// SyncAlways makes the embedded server fsync every write before it acks.
	SyncAlways bool
	// Stream is the JetStream stream name (default "EVENTS").
	Stream string
	// Subject prefix; messages go to <Subject>.<source id> (default "sy.events").
	Subject string
	// DuplicateWindow is how long a Nats-Msg-Id is remembered (default
	// 20s). The server keeps every id of the window in memory, about 120
	// bytes each: two minutes at 5,000 appends a second held 80 MB. The
	// window catches a client's quick retries at the cheapest point; every
	// later repeat of an event with a message id is dropped by the store's
	// unique key, which lasts as long as the events do.
	DuplicateWindow time.Duration
	// AckWait is how long a delivered message may stay unacknowledged before
	// it is delivered again (default 15s).
	AckWait time.Duration
	// MaxBatch caps the messages handed to a consumer at once (default 512).
	MaxBatch int
	// MaxBatchBytes caps their total size (default 2 MiB), so that large
	// messages (group-committed envelopes, Data Pipelines batches) make
	// smaller batches and the consumer's memory stays bounded.
	MaxBatchBytes int
	// Credentials is a .creds file (JWT and NKey seed) and NKeySeed an
	// NKey seed file, to authenticate to an external server; CAFile the
	// roots its certificate is checked against; CertFile and KeyFile a
	// client certificate. User and password or a token go in URL.
	Credentials, NKeySeed     string
	CAFile, CertFile, KeyFile string
	// Replicas is how many copies a clustered external JetStream keeps of
	// each stream (0: the server's default, 1).
	Replicas int
	// TrimInterval is how often acknowledged messages are purged (default 1s).
	TrimInterval time.Duration
	// TrimPaused, if set, holds the purge while it reports true (the disk
	// is nearly full): a purge compacts the stream's files, which writes.
	TrimPaused func() bool
	// Linger is how long a consumer waits, after the first message of a
	// batch, for more to arrive (default 0: hand over what is there). A few
	// milliseconds make batches larger and store commits rarer under load,
	// at the cost of that much processing delay (acks are not affected).
	Linger time.Duration
	Log    *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Stream == "" {
		o.Stream = "EVENTS"
	}
	if o.Subject == "" {
		o.Subject = "sy.events"
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = 20 * time.Second
	}
	if o.AckWait == 0 {
		o.AckWait = 15 * time.Second
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 512
	}
	if o.MaxBatchBytes == 0 {
		o.MaxBatchBytes = 2 << 20
	}
	if o.TrimInterval == 0 {
		o.TrimInterval = time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// Log is a cdp.EventLog on JetStream.
type Log struct {
	opts   Options
	ns     *server.Server // nil for an external server
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream

	sibling bool // shares the server and connection of another Log
	hooks   *hooks
	// writeFailed is set when the embedded server failed to write (the
	// disk was full): from then on it refuses every write to that stream
	// until JetStream is loaded again (Repair). Shared with siblings.
	writeFailed *atomic.Bool
	stopTrim    context.CancelFunc
	trimDone    chan struct{}
	trimmed     uint64   // last purged-up-to sequence; only trimLoop uses it
	acks        sync.Map // group → *ackTally: what this process acked
}

// ackTally counts what a process acked for a group (cdp.Backlog.AckedHere).
type ackTally struct{ messages, bytes atomic.Uint64 }

func (l *Log) tally(group string) *ackTally {
	t, _ := l.acks.LoadOrStore(group, new(ackTally))
	return t.(*ackTally)
}

var _ cdp.EventLog = (*Log)(nil)

// external returns the connection options of an external server: retry
// forever, and authenticate and encrypt as configured.
func (o Options) external() ([]nats.Option, error) {
	out := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(reconnectWait)}
	if o.Credentials != "" {
		out = append(out, nats.UserCredentials(o.Credentials))
	}
	if o.NKeySeed != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("nats nkey: %w", err)
		}
		out = append(out, opt)
	}
	if o.CAFile != "" {
		out = append(out, nats.RootCAs(o.CAFile))
	}
	if o.CertFile != "" {
		out = append(out, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	return out, nil
}

// hooks are what runs when the connection comes back after a loss.
type hooks struct {
	mu          sync.Mutex
	onReconnect []func()
}

func (l *Log) onReconnect(fn func()) {
	l.hooks.mu.Lock()
	defer l.hooks.mu.Unlock()
	l.hooks.onReconnect = append(l.hooks.onReconnect, fn)
}

func (h *hooks) reconnected() {
	h.mu.Lock()
	fns := h.onReconnect
	h.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// maxPayload is the largest message the embedded server accepts: an ingest
// request is capped well below it, so one request is always one message.
const maxPayload = 8 << 20

// Open starts the embedded server if needed, connects, and creates or
// updates the stream.
func Open(ctx context.Context, opts Options) (*Log, error) {
	opts.setDefaults()
	l := &Log{opts: opts, hooks: &hooks{}, writeFailed: &atomic.Bool{}}
	var copts []nats.Option
	url := opts.URL
	if url == "" {
		ns, err := startEmbedded(opts, l.writeFailed)
		if err != nil {
			return nil, err
		}
		l.ns = ns
		copts = append(copts, nats.InProcessServer(ns))
	} else {
		external, err := opts.external()
		if err != nil {
			return nil, err
		}
		copts = append(copts, external...)
	}
	copts = append(copts, nats.Name("switchyard"),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				opts.Log.Warn("event log disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			opts.Log.Info("event log reconnected")
			l.hooks.reconnected()
		}))
	nc, err := nats.Connect(url, copts...)
	if err != nil {
		l.shutdownServer()
		return nil, unavailable(fmt.Errorf("connect to nats: %w", err))
	}
	l.nc = nc
	// An append that gets no ack within 10 s fails (503 to the client, who
	// retries) rather than holding its request, and the group commit, forever.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(16384), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	l.js = js
	if err := l.setupStream(ctx); err != nil {
		l.Close()
		return nil, unavailable(err)
	}
	return l, nil
}

// unavailable marks err as cdp.EUNAVAILABLE when it says that no server
// could be reached (or a balancer in front of them closed the connection)
// or that JetStream cannot serve yet (a cluster still
// forming, too few servers up for the replicas): a node started together
// with its NATS servers waits for them instead of failing.
func unavailable(err error) error {
	var api *jetstream.APIError
	var ne net.Error
	if errors.Is(err, nats.ErrNoServers) || errors.Is(err, io.EOF) || errors.As(err, &ne) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		(errors.As(err, &api) && api.Code == 503) {
		return fmt.Errorf("%w: %w", cdp.Errorf(cdp.EUNAVAILABLE, "the event log is unreachable"), err)
	}
	return err
}

// Sibling returns a second log on the same server and connection, in its
// own stream (the run queue beside the event log). Closing it stops only
// its own work; the server and connection belong to l, so close it first.
func (l *Log) Sibling(ctx context.Context, stream, subject string) (*Log, error) {
	opts := l.opts
	opts.Stream, opts.Subject = stream, subject
	s := &Log{opts: opts, ns: l.ns, nc: l.nc, js: l.js, sibling: true, hooks: l.hooks, writeFailed: l.writeFailed}
	if err := s.setupStream(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// setupStream creates or updates the stream, hands back what a crashed
// process held, and starts trimming.
func (l *Log) setupStream(ctx context.Context) error {
	// Limits retention without limits: nothing expires, and trim removes
	// what every consumer group has acknowledged. (Work-queue retention
	// would delete each message as it is acked, writing a tombstone per ack
	// that SyncAlways fsyncs: one fsync per processed message.)
	//
	// On an external server, shared by several nodes, the stream is a work
	// queue instead: JetStream removes each message once its group acked
	// it. Trimming to the ack floor from every node lost messages there
	// (a node killed with messages in hand; TestThreeNodesKillNine), and
	// the tombstone cost is the server's own sync policy's business.
	retention := jetstream.LimitsPolicy
	if l.ns == nil {
		retention = jetstream.WorkQueuePolicy
	}
	var err error
	l.stream, err = l.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       l.opts.Stream,
		Subjects:   []string{l.opts.Subject + ".>"},
		Retention:  retention,
		Storage:    jetstream.FileStorage,
		Duplicates: l.opts.DuplicateWindow,
		Replicas:   l.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", l.opts.Stream, err)
	}
	if l.ns != nil {
		if err := l.releaseOrphans(ctx); err != nil {
			return err
		}
	}
	trimCtx, stop := context.WithCancel(context.Background())
	l.stopTrim = stop
	l.trimDone = make(chan struct{})
	if retention == jetstream.WorkQueuePolicy {
		close(l.trimDone) // nothing to trim
		return nil
	}
	go l.trimLoop(trimCtx)
	return nil
}

// releaseOrphans makes messages that a crashed process had received but
// not acknowledged deliverable at once, instead of after the ack wait. It
// is only safe when no other process can be consuming, which holds for
// the embedded server (its data dir is locked): each consumer group with
// pending acks is recreated to start right after its ack floor.
func (l *Log) releaseOrphans(ctx context.Context) error {
	lister := l.stream.ListConsumers(ctx)
	var orphaned []*jetstream.ConsumerInfo
	for info := range lister.Info() {
		if info.NumAckPending > 0 {
			orphaned = append(orphaned, info)
		}
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("list consumers: %w", err)
	}
	for _, info := range orphaned {
		cfg := l.consumerConfig(info.Name)
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, info.AckFloor.Stream+1
		if err := l.js.DeleteConsumer(ctx, l.opts.Stream, info.Name); err != nil {
			return fmt.Errorf("reset consumer %s: %w", info.Name, err)
		}
		if _, err := l.js.CreateConsumer(ctx, l.opts.Stream, cfg); err != nil {
			return fmt.Errorf("reset consumer %s: %w", info.Name, err)
		}
		l.opts.Log.Info("redelivering messages unacknowledged before a restart", "group", info.Name, "messages", info.NumAckPending)
	}
	return nil
}

func (l *Log) consumerConfig(group string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       group,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       l.opts.AckWait,
		MaxAckPending: 8 * l.opts.MaxBatch,
		MaxDeliver:    -1,
	}
}

// trimLoop trims the stream every TrimInterval until ctx is done.
func (l *Log) trimLoop(ctx context.Context) {
	defer close(l.trimDone)
	periodic.Run(ctx, l.opts.TrimInterval, func(ctx context.Context) {
		if err := l.trim(ctx); err != nil && ctx.Err() == nil {
			l.opts.Log.Warn("trim event log", "err", err)
		}
	})
}

// trim purges the messages every consumer group has acknowledged: one
// range purge instead of a delete per ack. A stream without consumers is
// never trimmed, so nothing is lost before the processor first attaches.
func (l *Log) trim(ctx context.Context) error {
	// After a failed write the stream holds data it could not flush, and
	// nats-server's purge, which flushes under the store's lock, would
	// deadlock the stream when that flush fails again: no purge until
	// Repair has reloaded it. Nor while the disk is nearly full.
	if l.writeFailed.Load() || (l.opts.TrimPaused != nil && l.opts.TrimPaused()) {
		return nil
	}
	lister := l.stream.ListConsumers(ctx)
	floor, groups := uint64(math.MaxUint64), 0
	for info := range lister.Info() {
		floor = min(floor, info.AckFloor.Stream)
		groups++
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("list consumers: %w", err)
	}
	if groups == 0 || floor <= l.trimmed {
		return nil
	}
	if err := l.stream.Purge(ctx, jetstream.WithPurgeSequence(floor+1)); err != nil {
		return fmt.Errorf("purge to %d: %w", floor, err)
	}
	l.trimmed = floor
	return nil
}

func startEmbedded(opts Options, writeFailed *atomic.Bool) (*server.Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("embedded nats: no data dir")
	}
	sopts := &server.Options{
		ServerName:         "switchyard-embedded",
		DontListen:         true,
		JetStream:          true,
		StoreDir:           filepath.Join(opts.DataDir, "jetstream"),
		JetStreamMaxMemory: 64 << 20, // only file storage is used
		// Not the server's default, a share of the free space at start,
		// which would hold after space was freed: the data directory's
		// free space is guarded by the caller (TrimPaused, disk.Guard).
		JetStreamMaxStore: 1 << 50,
		MaxPayload:        maxPayload,
		SyncAlways:        opts.SyncAlways,
		NoSigs:            true,
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	ns.SetLoggerV2(&serverLogger{opts.Log.With("component", "nats"), writeFailed}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(60 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats: not ready after 60s")
	}
	return ns, nil
}

// Append implements cdp.EventLog.
func (l *Log) Append(ctx context.Context, sourceID, dedupID string, data []byte) (bool, error) {
	if !l.nc.IsConnected() {
		// Cut off from the servers: say so now (the client retries, a
		// balancer can send it elsewhere) rather than buffer the message
		// and hold the request for the ack timeout.
		return false, cdp.Errorf(cdp.EUNAVAILABLE, "the event log is unreachable (reconnecting)")
	}
	msg := &nats.Msg{Subject: l.opts.Subject + "." + sourceID, Data: data}
	if dedupID != "" {
		msg.Header = nats.Header{jetstream.MsgIDHeader: []string{dedupID}}
	}
	fut, err := l.js.PublishMsgAsync(msg)
	if err != nil {
		return false, fmt.Errorf("append to event log: %w", err)
	}
	select {
	case ack := <-fut.Ok():
		return ack.Duplicate, nil
	case err := <-fut.Err():
		return false, fmt.Errorf("append to event log: %w", err)
	case <-ctx.Done():
		return false, fmt.Errorf("append to event log: %w", ctx.Err())
	}
}

// Backlog implements cdp.EventLog.
func (l *Log) Backlog(ctx context.Context, group string) (cdp.Backlog, error) {
	c, err := l.js.Consumer(ctx, l.opts.Stream, group)
	if err != nil {
		return cdp.Backlog{}, fmt.Errorf("consumer %s: %w", group, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return cdp.Backlog{}, fmt.Errorf("consumer %s info: %w", group, err)
	}
	sinfo, err := l.stream.Info(ctx)
	if err != nil {
		return cdp.Backlog{}, fmt.Errorf("stream %s info: %w", l.opts.Stream, err)
	}
	t := l.tally(group)
	b := cdp.Backlog{Messages: info.NumPending + uint64(info.NumAckPending), Bytes: sinfo.State.Bytes,
		Acked: info.AckFloor.Stream, AckedHere: t.messages.Load(), AckedHereBytes: t.bytes.Load()}
	if b.Messages > 0 {
		// The first message after the ack floor is the oldest not acked
		// (an acked one is never redelivered; a trimmed one was acked).
		if m, err := l.stream.GetMsg(ctx, max(info.AckFloor.Stream+1, sinfo.State.FirstSeq)); err == nil {
			b.Oldest = m.Time
		}
	}
	return b, nil
}

// Ping implements cdp.EventLog.
func (l *Log) Ping(ctx context.Context) error {
	if _, err := l.stream.Info(ctx); err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	return nil
}

// Close drains the connection (pending acks are flushed) and stops the
// embedded server.
func (l *Log) Close() error {
	if l.stopTrim != nil {
		l.stopTrim()
		<-l.trimDone
	}
	if l.sibling {
		return nil
	}
	if l.nc != nil {
		_ = l.nc.Drain()
		for l.nc.IsDraining() {
			time.Sleep(5 * time.Millisecond)
		}
		l.nc.Close()
	}
	l.shutdownServer()
	return nil
}

func (l *Log) shutdownServer() {
	if l.ns != nil {
		l.ns.Shutdown()
		l.ns.WaitForShutdown()
	}
}

// Repair loads the embedded server's JetStream again if a write failed
// since it was last loaded (the disk was full): the server refuses every
// later write to a stream whose write failed, and publishes to it time out,
// until then. What it acknowledged had been written, and is loaded again;
// consumers carry on from their acknowledged positions. Call it once
// space has been freed. With an external server it does nothing: that
// server's operator owns its disks.
func (l *Log) Repair(ctx context.Context) error {
	if l.ns == nil || !l.writeFailed.Load() {
		return nil
	}
	cfg := l.ns.JetStreamConfig()
	if cfg == nil {
		return errors.New("repair event log: JetStream is not running")
	}
	l.opts.Log.Warn("reloading the event log after a failed write")
	if err := l.ns.ShutdownJetStream(); err != nil {
		return fmt.Errorf("repair event log: stop JetStream: %w", err)
	}
	// The running configuration names the store's own directory; enabling
	// takes its parent, as the server's options do.
	cfg.StoreDir = filepath.Dir(cfg.StoreDir)
	if err := l.ns.EnableJetStream(cfg); err != nil {
		return fmt.Errorf("repair event log: start JetStream: %w", err)
	}
	if _, err := l.stream.Info(ctx); err != nil {
		return fmt.Errorf("repair event log: %w", err)
	}
	l.writeFailed.Store(false)
	l.opts.Log.Info("event log reloaded")
	return nil
}

// serverLogger adapts slog to nats-server's logger interface. It also
// notes a failed write, which the server reports only in its log.
type serverLogger struct {
	l           *slog.Logger
	writeFailed *atomic.Bool
}

func (s *serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	// The server's own test for a full disk (isOutOfSpaceErr) is this text.
	if strings.Contains(msg, "no space left") || strings.Contains(msg, "write error") {
		s.writeFailed.Store(true)
	}
	s.l.Error(msg)
}
func (s *serverLogger) Debugf(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Tracef(format string, v ...any) {}

// reconnectWait is how long a connection waits between attempts to
// reconnect (the client adds up to 100 ms of jitter): two nodes cut off
// together may come back that far apart.
const reconnectWait = time.Second
