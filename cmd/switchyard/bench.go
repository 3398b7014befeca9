package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchyardhq/switchyard/internal/bench"
)

type benchFlags struct {
	url, path, source, durability string
	postgresURL, natsURL          string
	payload, compare, quality     string
	rounds, prefill, waiting      int
	wakeShare                     float64
	batch, fanout, nodes          int
	actionBatch                   int
	siteID, apiKey, writeKey      string
	rate                          float64
	duration, warmup, dueIn       time.Duration
	due                           time.Time // journeys with --due-in: when the seeded waits time out
	connections, sessions         int
	tails                         int
	tailFilter                    string
	baseline, spawn, step, tail   bool
	closed                        bool
	sink                          *actionSink
	signingKey                    string
	stepFactor, maxErrors         float64
	p99                           time.Duration
}

// runBench runs the open-loop load generator (docs/benchmarks.md):
//
//	switchyard bench --spawn --baseline --rate 1000            one rate
//	switchyard bench --spawn --baseline --step --rate 2000     step search
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "noop-server" {
		return noopServer(ctx, args[1:], stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	f := &benchFlags{}
	fs.StringVar(&f.url, "url", "http://127.0.0.1:8686", "base URL of a running switchyard (ignored with --spawn)")
	fs.StringVar(&f.path, "path", "", "path to POST to (default: the payload's)")
	fs.StringVar(&f.payload, "payload", "track", "track (Tracardi /track), cio-event (Track API /api/v1/customers/{id}/events), pipelines-track (Data Pipelines /v1/track, one event), pipelines-batch (Data Pipelines /v1/batch), cio-webhook (signed Customer.io reporting webhooks) actions (page views a workflow delivers to a local sink; needs --spawn) or journeys (Data Pipelines track calls beside --waiting runs waiting at a wait_for, --wake-share of them waking one; needs --spawn)")
	fs.StringVar(&f.signingKey, "signing-key", "", "signing key of the --source customerio_webhook source (created with --spawn)")
	fs.BoolVar(&f.tail, "tail", false, "cio-webhook: also measure how long after its ack each event shows on the live tail")
	fs.IntVar(&f.tails, "tails", 0, "keep this many live tails open on the server during each run (what they cost ingest)")
	fs.StringVar(&f.tailFilter, "tail-filter", "", "with --tails: the CEL filter each of them applies")
	fs.IntVar(&f.batch, "batch", 100, "events per request for pipelines-batch")
	fs.StringVar(&f.quality, "quality", "", "pipelines-track with 20 properties, and this build's spawned server checks them with a tracking plan (plan), reshapes them with a 5-field transform (transform), both (both) or neither (none); an older binary (--compare) gets the same calls and neither; against --url only the calls change")
	fs.IntVar(&f.fanout, "fanout", 1, "actions: workflows each page view starts (each delivers it once)")
	fs.IntVar(&f.actionBatch, "action-batch", 0, "actions: the sink destinations batch up to this many deliveries per request (max_wait 100ms); 0 sends each on its own")
	fs.IntVar(&f.waiting, "waiting", 10000, "journeys: runs waiting at a wait_for before the load")
	fs.Float64Var(&f.wakeShare, "wake-share", 0.1, "journeys: the share of the load's events that wake a waiting run")
	fs.DurationVar(&f.dueIn, "due-in", 0, "journeys: every seeded wait times out at the same instant, this long after the server starts (it must fall in the measured load), instead of in 24 h")
	fs.StringVar(&f.siteID, "site-id", "", "Track API site id (read from the banner with --spawn)")
	fs.StringVar(&f.apiKey, "api-key", "", "Track API key (read from the banner with --spawn)")
	fs.StringVar(&f.writeKey, "write-key", "", "Data Pipelines write key (read from the banner with --spawn)")
	fs.StringVar(&f.source, "source", "default", "source id in the payload")
	fs.StringVar(&f.postgresURL, "postgres-url", "", "with --spawn: run the server on this PostgreSQL")
	fs.StringVar(&f.natsURL, "nats-url", "", "with --spawn: run the server on this external NATS (streams under a fresh prefix)")
	fs.IntVar(&f.nodes, "nodes", 1, "with --spawn, --postgres-url and --nats-url: start this many servers sharing them, and spread the requests over them round robin, as a load balancer would")
	fs.Float64Var(&f.rate, "rate", 1000, "requests per second (the first step with --step)")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "measured time per run or step")
	fs.DurationVar(&f.warmup, "warmup", 5*time.Second, "unmeasured time before each run or step")
	fs.IntVar(&f.connections, "connections", 256, "keep-alive connections")
	fs.BoolVar(&f.closed, "closed", false, "closed loop, as wrk: every connection sends its next request once its last is answered (--rate is ignored); measures the throughput at that concurrency")
	fs.IntVar(&f.sessions, "sessions", 10000, "distinct session ids the payloads cycle through")
	fs.BoolVar(&f.baseline, "baseline", false, "first measure a no-op net/http server (a child process) at the same load")
	fs.BoolVar(&f.spawn, "spawn", false, "start `switchyard serve` on a fresh data dir and measure it, with its RSS and CPU")
	fs.StringVar(&f.durability, "durability", "process", "durability of the spawned server: process or fsync")
	fs.StringVar(&f.compare, "compare", "", "with --spawn: also measure this older switchyard binary, alternating with this one, and print the ratios")
	fs.IntVar(&f.prefill, "prefill", 0, "with --spawn: first store this many events (Data Pipelines batches), so the store measured is not empty")
	fs.IntVar(&f.rounds, "rounds", 1, "with --compare: how many times to measure each binary (alternating which goes first)")
	fs.BoolVar(&f.step, "step", false, "step search: raise the rate until p99 or errors exceed their bounds")
	fs.Float64Var(&f.stepFactor, "step-factor", 1.25, "rate multiplier between steps")
	fs.DurationVar(&f.p99, "p99", 50*time.Millisecond, "p99 bound of the step search")
	fs.Float64Var(&f.maxErrors, "max-errors", 0.001, "error-rate bound of the step search")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if f.closed && f.step {
		return errors.New("bench: --step raises the offered rate; a --closed run has none (raise --connections instead)")
	}
	if err := validQuality(f.quality, f.payload); err != nil {
		return err
	}
	if f.compare != "" && !f.spawn {
		return errors.New("bench: --compare needs --spawn (both binaries are started on fresh data)")
	}
	if f.nodes < 1 || (f.nodes > 1 && (!f.spawn || f.postgresURL == "" || f.natsURL == "")) {
		return errors.New("bench: --nodes N > 1 needs --spawn, --postgres-url and --nats-url (the nodes share them)")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	loop := "open-loop"
	if f.closed {
		loop = "closed-loop"
	}
	fmt.Fprintf(stdout, "# switchyard bench: %s, %d connections, %v warm-up + %v measured per run, payload %s\n",
		loop, f.connections, f.warmup, f.duration, f.payload)
	fmt.Fprintln(stdout, "| target | offered req/s | achieved req/s | events/s | stored/s | p50 | p90 | p99 | p99.9 | max | non-2xx | errors | CPU µs/req | peak RSS | disk/event | not stored | drain |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	if f.baseline {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		t, err := spawnTarget(ctx, self, "noop", []string{"bench", "noop-server", "--listen", "127.0.0.1:0"}, stderr)
		if err != nil {
			return err
		}
		_, err = measure(ctx, stdout, f, t)
		t.stop()
		if err != nil {
			return err
		}
	}
	if f.compare != "" {
		return compareBinaries(ctx, stdout, stderr, f)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	_, err = benchSwitchyard(ctx, stdout, stderr, f, self, "switchyard")
	return err
}

// benchSwitchyard measures one switchyard: the running one at f.url, or
// binary spawned on a fresh data dir (and a fresh PostgreSQL database),
// and checks afterwards that it stored everything it acknowledged.
func benchSwitchyard(ctx context.Context, stdout, stderr io.Writer, f *benchFlags, binary, label string) (summary, error) {
	t := &target{name: label, url: f.url}
	f.sink = nil
	if (f.payload == "actions" || f.payload == "journeys") && !f.spawn {
		return summary{}, fmt.Errorf("bench: --payload %s needs --spawn (the server must deliver to the bench's own sink)", f.payload)
	}
	if f.spawn {
		spawned, cleanup, err := spawnNodes(ctx, stderr, f, binary, label)
		if err != nil {
			return summary{}, err
		}
		defer cleanup()
		t = spawned
	}
	if t.cmd == nil {
		t.siteID, t.apiKey, t.writeKey = f.siteID, f.apiKey, f.writeKey
		t.hookSource, t.signingKey = f.source, f.signingKey
	} else if f.payload == "cio-webhook" {
		if err := createHookSource(ctx, t); err != nil {
			return summary{}, err
		}
	}
	if self, _ := os.Executable(); f.quality != "" && t.cmd != nil && binary == self {
		if err := setUpQuality(ctx, t, f.quality); err != nil {
			return summary{}, err
		}
		fmt.Fprintf(stdout, "  %s: data quality %q set up (20-property plan, 5-field transform)\n", label, f.quality)
	}
	if err := prefill(ctx, stdout, t, f.prefill, f.sessions); err != nil {
		return summary{}, err
	}
	if f.payload == "journeys" {
		woken.Store(0)
		if err := seedWaits(ctx, stdout, t, f.waiting, f.due, f.warmup); err != nil {
			return summary{}, err
		}
	}
	sum, err := measure(ctx, stdout, f, t)
	if err != nil {
		return sum, err
	}
	sum.diskPerEvent, err = verifyStored(ctx, stdout, t, sum.accepted)
	return sum, err
}

// spawnNodes starts f.nodes servers of binary on a fresh data dir (with a
// fresh database and stream prefix when the bench targets PostgreSQL and
// NATS, and the bench's own sink for the actions payload, set in f.sink),
// and returns the first as the target with the others as its peers.
// cleanup stops them and removes what they made.
func spawnNodes(ctx context.Context, stderr io.Writer, f *benchFlags, binary, label string) (t *target, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	dir, err := os.MkdirTemp("", "switchyard-bench")
	if err != nil {
		return nil, nil, err
	}
	undo = append(undo, func() { os.RemoveAll(dir) })
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--durability", f.durability}
	var pgURL string
	if f.postgresURL != "" {
		url, drop, err := freshDatabase(ctx, f.postgresURL)
		if err != nil {
			return nil, nil, err
		}
		undo = append(undo, drop)
		pgURL = url
		args = append(args, "--postgres-url", url)
	}
	if f.natsURL != "" {
		prefix := fmt.Sprintf("BENCH%d_", time.Now().UnixNano())
		args = append(args, "--nats-url", f.natsURL, "--nats-prefix", prefix)
		undo = append(undo, func() { deleteStreams(f.natsURL, prefix) })
	}
	if f.payload == "actions" || f.payload == "journeys" {
		fanout := max(f.fanout, 1)
		if f.payload == "journeys" {
			fanout = 1
		}
		sink, err := startSink(fanout)
		if err != nil {
			return nil, nil, err
		}
		undo = append(undo, func() { sink.srv.Close() })
		f.sink = sink
		cfg, err := actionsConfig(dir, sink.url, sink.fanout, f.actionBatch)
		if f.payload == "journeys" {
			f.due = time.Time{}
			if f.dueIn > 0 {
				f.due = time.Now().Add(f.dueIn)
			}
			cfg, err = journeysConfig(dir, sink.url, f.due, f.waiting == 0)
		}
		if err != nil {
			return nil, nil, err
		}
		args = append(args, "--config", cfg)
	}
	name := label + " (" + f.durability + ")"
	if f.nodes > 1 {
		name = fmt.Sprintf("%s ×%d (%s)", label, f.nodes, f.durability)
	}
	// One after the other: the first creates the schema, the streams and
	// the default sources the others then find.
	for n := range f.nodes {
		nodeArgs := slices.Clone(args)
		nodeArgs[slices.Index(nodeArgs, "--data-dir")+1] = filepath.Join(dir, fmt.Sprintf("node-%d", n))
		node, err := spawnTarget(ctx, binary, name, nodeArgs, stderr)
		if err != nil {
			return nil, nil, err
		}
		undo = append(undo, node.stop)
		if n == 0 {
			t = node
		} else {
			t.peers = append(t.peers, node)
		}
	}
	t.dataDir, t.postgresURL = dir, pgURL
	t.emptyBytes = t.diskBytes(ctx)
	return t, cleanup, nil
}

// load builds the requests of f.payload for t.
func load(f *benchFlags, t *target) (bench.Load, int, error) {
	l := bench.Load{ContentType: "application/json"}
	events := 1
	switch f.payload {
	case "track":
		bodies := trackBodies(f.source, f.sessions)
		l.URL, l.Body = t.url+"/track", func(i int) []byte { return bodies[i%len(bodies)] }
	case "cio-event":
		if t.siteID == "" && t.cmd != nil && t.name == "noop" {
			t.siteID, t.apiKey = "noop", "noop"
		}
		if t.siteID == "" {
			return l, 0, errors.New("bench: cio-event needs --site-id and --api-key (or --spawn)")
		}
		l.URL = t.url + "/api/v1/customers/1/events"
		l.Header = []string{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(t.siteID+":"+t.apiKey))}
		l.Path = func(i int) string { return fmt.Sprintf("/api/v1/customers/%d/events", i%max(f.sessions, 1)) }
		l.Body = func(i int) []byte {
			return fmt.Appendf(nil, `{"name":"purchase","id":"ev-%d","data":{"price":%d.99,"product":"socks","sku":"S-%d"}}`, uniq.Add(1), i%500, i)
		}
	case "cio-webhook":
		if t.name == "noop" {
			t.hookSource, t.signingKey = "noop", "noop"
		}
		if t.signingKey == "" {
			return l, 0, errors.New("bench: cio-webhook needs --source and --signing-key (or --spawn)")
		}
		webhookLoad(&l, f, t)
	case "journeys":
		if t.name != "noop" {
			break // set per run by measure
		}
		body := pipelinesTrack(0, 1)
		l.URL, l.Body = t.url+"/v1/track", func(int) []byte { return body }
	case "actions":
		if t.name != "noop" {
			break // set per run by measure
		}
		body := trackBodies("default", 1)[0]
		l.URL, l.Body = t.url+"/track", func(int) []byte { return body }
	case "pipelines-track", "pipelines-batch":
		if t.writeKey == "" && t.cmd != nil && t.name == "noop" {
			t.writeKey = "noop"
		}
		if t.writeKey == "" {
			return l, 0, fmt.Errorf("bench: %s needs --write-key (or --spawn)", f.payload)
		}
		l.Header = []string{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(t.writeKey+":"))}
		if f.payload == "pipelines-track" {
			l.URL = t.url + "/v1/track"
			l.Body = func(i int) []byte { return pipelinesTrack(int(uniq.Add(1)), f.sessions) }
			if f.quality != "" {
				l.Body = func(i int) []byte { return pipelinesTrack20(int(uniq.Add(1)), f.sessions) }
			}
			break
		}
		events = max(f.batch, 1)
		l.URL = t.url + "/v1/batch"
		l.Body = func(i int) []byte { return pipelinesBatch(int(uniq.Add(1)), events, f.sessions) }
	default:
		return l, 0, fmt.Errorf("bench: unknown payload %q", f.payload)
	}
	if f.path != "" {
		l.URL, l.Path = t.url+f.path, nil
	}
	for _, peer := range t.peers {
		l.More = append(l.More, peer.url+strings.TrimPrefix(l.URL, t.url))
	}
	return l, events, nil
}

// uniq numbers requests across every run of the process, so that client
// message ids never repeat between steps (a repeat would be dropped by the
// event log's dedup window and measure the cheap path).
var uniq atomic.Int64

// pipelinesBatch is a /v1/batch body of n track calls with unique message
// ids, shaped like analytics-go's.
func pipelinesBatch(i, n, users int) []byte {
	b := append(make([]byte, 0, n*260), `{"batch":[`...)
	for j := range n {
		if j > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"type":"track","messageId":"m-%d-%d","userId":"u%d","event":"Order Completed",`+
			`"timestamp":"2026-11-23T10:00:00Z","properties":{"total":%d.99,"currency":"EUR","items":%d}}`, i, j, (i*n+j)%max(users, 1), j, j%7)
	}
	return append(b, `],"context":{"library":{"name":"analytics-go","version":"3.0.0"}}}`...)
}

// pipelinesTrack is a single-event /v1/track body with a unique message
// id, as Segment's and Customer.io's server libraries send it.
func pipelinesTrack(i, users int) []byte {
	return fmt.Appendf(nil, `{"type":"track","messageId":"m-%d","userId":"u%d","event":"Order Completed",`+
		`"timestamp":"2026-11-23T10:00:00Z","properties":{"total":%d.99,"currency":"EUR","items":%d},`+
		`"context":{"library":{"name":"analytics-node","version":"2.1.0"}}}`, i, i%max(users, 1), i%500, i%7)
}

// measure runs one rate, or the step search, against t, printing a row
// per run; the summary is of the highest passing rate (the last run's
// without --step).
func measure(ctx context.Context, w io.Writer, f *benchFlags, t *target) (summary, error) {
	sum := summary{name: t.name}
	l, events, err := load(f, t)
	if err != nil {
		return sum, err
	}
	rate := f.rate
	for {
		cpu0, disk0, acc0 := t.cpu(), t.diskBytes(ctx), t.acceptedEvents(ctx)
		l.Rate, l.Duration, l.Warmup, l.Connections, l.Closed = rate, f.duration, f.warmup, f.connections, f.closed
		storedRate := probeStored(ctx, t, f.warmup, f.duration)
		run := runSeq.Add(1)
		var probe *tailProbe
		if f.tail && f.payload == "cio-webhook" && t.name != "noop" {
			if probe, err = startTailProbe(ctx, t, run); err != nil {
				return sum, err
			}
			l.OnReply = probe.onReply
		}
		stopTails := func() int { return 0 }
		opened := 0
		if f.tails > 0 && t.name != "noop" {
			opened, stopTails = openTails(ctx, t, f.tails, f.tailFilter)
		}
		var acks *sync.Map
		if f.sink != nil && t.name != "noop" {
			acks = &sync.Map{}
			if f.payload == "journeys" {
				var sink *actionSink
				if !f.due.IsZero() {
					sink = f.sink
				}
				journeysLoad(&l, t, acks, f.waiting, f.wakeShare, sink)
			} else {
				actionsLoad(&l, t, acks)
			}
		}
		var sampled func() int
		if f.payload == "journeys" && t.cmd != nil {
			sampled = t.sampleRSS(ctx, f.warmup)
		}
		res, err := bench.Run(ctx, l)
		if sampled != nil {
			fmt.Fprintf(w, "  %s: resident memory during the measured load at most %d MB (sampled every 250 ms)\n", t.name, sampled())
		}
		if dropped := stopTails(); opened > 0 {
			fmt.Fprintf(w, "# %s: %d of %d live tails opened; the server disconnected %d of them during the run\n", t.name, opened, f.tails, dropped)
		}
		if err != nil {
			return sum, err
		}

		sum.accepted += res.OK
		row := summary{name: t.name, rate: rate, achieved: res.Throughput() * float64(events), p99: res.Latency.Quantile(0.99), rssMB: t.rssMB()}
		cpu := ""
		if d := t.cpu() - cpu0; d > 0 {
			total := rate * (f.warmup + f.duration).Seconds()
			if f.closed {
				total = res.Throughput() * (f.warmup + f.duration).Seconds()
			}
			row.cpuPerReq = float64(d.Microseconds()) / total
			cpu = fmt.Sprintf("%.0f", row.cpuPerReq)
		}
		stored := "—"
		if r, ok := <-storedRate; ok {
			row.stored = r
			stored = fmt.Sprintf("%.0f", r)
		}
		disk := "—"
		if n := t.acceptedEvents(ctx) - acc0; n > 0 && t.dataDir != "" {
			disk = fmt.Sprintf("%.0f B", float64(t.diskBytes(ctx)-disk0)/n)
		}
		unstored, behind := "—", false
		if t.cmd != nil && t.name != "noop" {
			n, err := t.unstored(ctx)
			if err != nil {
				return sum, err
			}
			// More than a second of traffic not stored: the processor is
			// not keeping up, whatever the ingest latency says.
			unstored, behind = fmt.Sprintf("%.0f", n), n > res.Throughput()*float64(events)
		}
		drain := "—"
		if t.cmd != nil && t.name != "noop" {
			// Each step starts with nothing waiting, and says how long what
			// it left took to store.
			d, err := t.drain(ctx, false)
			if err != nil {
				return sum, err
			}
			row.drain, drain = d, fmt.Sprintf("%.1f s", d.Seconds())
		}
		offered := fmt.Sprintf("%.0f", rate)
		if f.closed {
			offered = "closed"
		}
		h := &res.Latency
		fmt.Fprintf(w, "| %s | %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %d | %d | %s | %s | %s | %s | %s |\n", t.name, offered, res.Throughput(),
			res.Throughput()*float64(events), stored, ms(h.Quantile(0.5)), ms(h.Quantile(0.9)), ms(h.Quantile(0.99)), ms(h.Quantile(0.999)),
			ms(h.Max()), res.Non2xx, res.Errors, cpu, t.rss(), disk, unstored, drain)
		if res.FirstCode != 0 || res.FirstErr != nil {
			fmt.Fprintf(w, "  first failure: status %d, error %v\n", res.FirstCode, res.FirstErr)
		}
		if probe != nil {
			probe.report(w)
		}
		if acks != nil {
			f.sink.report(w, acks, res.Elapsed, func() time.Duration { return t.cpu() - cpu0 })
		}
		if f.payload == "journeys" && !f.due.IsZero() && t.name != "noop" {
			f.sink.reportTimeouts(w, f.waiting, f.due)
		}
		passed := res.Latency.Quantile(0.99) <= f.p99 && res.ErrorRate() <= f.maxErrors && !behind
		if !f.step {
			row.accepted, row.passed = sum.accepted, passed
			return row, nil
		}
		if !passed {
			fmt.Fprintf(w, "  %s: highest rate with p99 ≤ %v, errors ≤ %.1f%% and at most a second of events not stored: %.0f requests/s (%.0f events/s)\n",
				t.name, f.p99, 100*f.maxErrors, sum.rate, sum.rate*float64(events))
			return sum, nil
		}
		row.accepted, row.passed = sum.accepted, true
		sum = row
		rate *= f.stepFactor
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// trackBodies prepares single-event Tracardi payloads cycling through a
// pool of sessions, about the size of a browser tracker's page view.
func trackBodies(source string, sessions int) [][]byte {
	n := max(sessions, 1) * 4
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"source":{"id":%q},"session":{"id":"bench-session-%d"},`+
			`"context":{"browser":{"local":{"browser":{"name":"chrome","language":"en-US"}}},"screen":{"local":{"width":1920,"height":1080}}},`+
			`"events":[{"type":"page-view","properties":{"title":"Product %d","url":"https://shop.example/p/%d","price":%d.99},`+
			`"context":{"page":{"path":"/p/%d","referer":{"host":"search.example"}}}}]}`, source, i%max(sessions, 1), i, i, i%500, i)
	}
	return out
}

// verifyStored waits for a spawned switchyard to process everything and
// checks that it stored every event it acknowledged; it returns the disk
// its data dir and database use per stored event, once at rest.
func verifyStored(ctx context.Context, w io.Writer, t *target, requests int) (float64, error) {
	if t.cmd == nil {
		return 0, nil
	}
	d, err := t.drain(ctx, true)
	if err != nil {
		return 0, fmt.Errorf("durable-ack check: %w", err)
	}
	c, err := t.counts(ctx)
	if err != nil {
		return 0, err
	}
	disk := 0.0
	if n := c.stored - t.prefilled; n > 0 {
		disk = float64(t.diskBytes(ctx)-t.emptyBytes) / n
	}
	fmt.Fprintf(w, "  durable-ack check: %d requests acknowledged in the measured parts; of all events accepted (warm-ups and system events included) %.0f, stored %.0f, redelivered duplicates %.0f; drained %.1f s after the load; at rest %.0f B of disk per stored event\n",
		requests, c.accepted, c.stored, c.duplicates, d.Seconds(), disk)
	return disk, nil
}

// eventCounts are a spawned switchyard's event counters, summed over its
// nodes.
type eventCounts struct {
	accepted, stored, duplicates float64
	lag                          float64 // processor lag in event-log messages (shared by the nodes)
}

func (t *target) counts(ctx context.Context) (eventCounts, error) {
	var c eventCounts
	for _, node := range append([]*target{t}, t.peers...) {
		m, err := scrape(ctx, node.url+"/metrics")
		if err != nil {
			return c, err
		}
		if node == t {
			c.lag = m["switchyard_processor_lag_messages"]
		}
		for k, v := range m {
			if strings.HasPrefix(k, `switchyard_ingested_events_total{outcome="accepted"`) {
				c.accepted += v
			}
		}
		c.stored += m[`switchyard_processed_events_total{outcome="stored"}`]
		c.duplicates += m[`switchyard_processed_events_total{outcome="duplicate"}`]
	}
	return c, nil
}

// probeStored measures the events stored per second during the measured
// part of a run that starts now (after warmup, for duration), from the
// spawned servers' counters; the channel closes without a value when t
// is not a spawned switchyard.
func probeStored(ctx context.Context, t *target, warmup, duration time.Duration) <-chan float64 {
	out := make(chan float64, 1)
	if t.cmd == nil || t.name == "noop" {
		close(out)
		return out
	}
	go func() {
		defer close(out)
		stored := func() (float64, bool) {
			c, err := t.counts(ctx)
			return c.stored, err == nil
		}
		select {
		case <-time.After(warmup):
		case <-ctx.Done():
			return
		}
		s0, ok0 := stored()
		start := time.Now()
		select {
		case <-time.After(duration):
		case <-ctx.Done():
			return
		}
		if s1, ok1 := stored(); ok0 && ok1 {
			out <- (s1 - s0) / time.Since(start).Seconds()
		}
	}()
	return out
}

// drain waits until every event t accepted is stored (at most 10
// minutes) and, with emptyLog, until the processor reports no lag, and
// returns how long that took.
func (t *target) drain(ctx context.Context, emptyLog bool) (time.Duration, error) {
	start := time.Now()
	for {
		c, err := t.counts(ctx)
		if err != nil {
			return 0, err
		}
		if c.stored+c.duplicates >= c.accepted && (!emptyLog || c.lag == 0) {
			return time.Since(start), nil
		}
		if time.Since(start) > 10*time.Minute {
			return 0, fmt.Errorf("drain: %.0f events accepted but only %.0f stored after 10 minutes", c.accepted, c.stored)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// unstored is how many accepted events are not stored yet: at the end of
// a step, the processor's backlog (a rate the processor cannot keep up
// with shows as a backlog that grows from step to step).
func (t *target) unstored(ctx context.Context) (float64, error) {
	c, err := t.counts(ctx)
	return max(c.accepted-c.stored-c.duplicates, 0), err
}

// noopServer is the ceiling of the benchmark: net/http reading the body,
// decoding it as JSON and answering {} (measured on the same kind of machine).
func noopServer(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("noop-server", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var v struct {
			Source  struct{ ID string } `json:"source"`
			Session struct{ ID string } `json:"session"`
			Events  []json.RawMessage   `json:"events"`
		}
		if err != nil || json.Unmarshal(body, &v) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})}
	fmt.Fprintf(stdout, "ingest: %s\n", baseURL(ln.Addr()))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// deleteStreams removes the streams a spawned server made under prefix on
// an external NATS, so benchmarks leave nothing behind.
func deleteStreams(url, prefix string) {
	nc, err := nats.Connect(url)
	if err != nil {
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	for _, s := range []string{"EVENTS", "RUNS"} {
		_ = js.DeleteStream(context.Background(), prefix+s)
	}
	_ = js.DeleteKeyValue(context.Background(), prefix+"CONSOLE_SESSIONS")
}
