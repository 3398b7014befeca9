package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchyardhq/switchyard/internal/bench"
)

type benchFlags struct {
	url, path, source, durability string
	rate                          float64
	duration, warmup              time.Duration
	connections, sessions         int
	baseline, spawn, step         bool
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
	fs.SetOutput(stderr)
	f := &benchFlags{}
	fs.StringVar(&f.url, "url", "http://127.0.0.1:8686", "base URL of a running switchyard (ignored with --spawn)")
	fs.StringVar(&f.path, "path", "/track", "path to POST to")
	fs.StringVar(&f.source, "source", "default", "source id in the payload")
	fs.Float64Var(&f.rate, "rate", 1000, "requests per second (the first step with --step)")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "measured time per run or step")
	fs.DurationVar(&f.warmup, "warmup", 5*time.Second, "unmeasured time before each run or step")
	fs.IntVar(&f.connections, "connections", 256, "keep-alive connections")
	fs.IntVar(&f.sessions, "sessions", 10000, "distinct session ids the payloads cycle through")
	fs.BoolVar(&f.baseline, "baseline", false, "first measure a no-op net/http server (a child process) at the same load")
	fs.BoolVar(&f.spawn, "spawn", false, "start `switchyard serve` on a fresh data dir and measure it, with its RSS and CPU")
	fs.StringVar(&f.durability, "durability", "process", "durability of the spawned server: process or fsync")
	fs.BoolVar(&f.step, "step", false, "step search: raise the rate until p99 or errors exceed their bounds")
	fs.Float64Var(&f.stepFactor, "step-factor", 1.25, "rate multiplier between steps")
	fs.DurationVar(&f.p99, "p99", 50*time.Millisecond, "p99 bound of the step search")
	fs.Float64Var(&f.maxErrors, "max-errors", 0.001, "error-rate bound of the step search")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "# switchyard bench: open-loop, %d connections, %v warm-up + %v measured per run, %d sessions, POST %s\n",
		f.connections, f.warmup, f.duration, f.sessions, f.path)
	fmt.Fprintln(stdout, "| target | offered/s | achieved/s | p50 | p90 | p99 | p99.9 | max | non-2xx | errors | CPU µs/req | peak RSS |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	bodies := trackBodies(f.source, f.sessions)
	if f.baseline {
		t, err := spawnTarget(ctx, "noop", []string{"bench", "noop-server", "--listen", "127.0.0.1:0"}, stderr)
		if err != nil {
			return err
		}
		_, err = measure(ctx, stdout, f, t, bodies)
		t.stop()
		if err != nil {
			return err
		}
	}
	t := &target{name: "switchyard", url: f.url}
	if f.spawn {
		dir, err := os.MkdirTemp("", "switchyard-bench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		t, err = spawnTarget(ctx, "switchyard ("+f.durability+")", []string{"serve", "--listen", "127.0.0.1:0",
			"--data-dir", dir, "--durability", f.durability}, stderr)
		if err != nil {
			return err
		}
		defer t.stop()
	}
	accepted, err := measure(ctx, stdout, f, t, bodies)
	if err != nil {
		return err
	}
	return verifyStored(ctx, stdout, t, accepted)
}

// measure runs one rate, or the step search, against t.
func measure(ctx context.Context, w io.Writer, f *benchFlags, t *target, bodies [][]byte) (int, error) {
	rate, best, accepted := f.rate, 0.0, 0
	for {
		cpu0 := t.cpu()
		res, err := bench.Run(ctx, bench.Load{URL: t.url + f.path, Rate: rate, Duration: f.duration, Warmup: f.warmup,
			Connections: f.connections, ContentType: "application/json", Body: func(i int) []byte { return bodies[i%len(bodies)] }})
		if err != nil {
			return accepted, err
		}
		accepted += res.OK
		cpu := ""
		if d := t.cpu() - cpu0; d > 0 {
			total := int(rate * (f.warmup + f.duration).Seconds())
			cpu = fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(total))
		}
		l := &res.Latency
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %s | %s | %s | %s | %s | %d | %d | %s | %s |\n", t.name, rate, res.Throughput(),
			ms(l.Quantile(0.5)), ms(l.Quantile(0.9)), ms(l.Quantile(0.99)), ms(l.Quantile(0.999)), ms(l.Max()),
			res.Non2xx, res.Errors, cpu, t.rss())
		if res.FirstCode != 0 || res.FirstErr != nil {
			fmt.Fprintf(w, "  first failure: status %d, error %v\n", res.FirstCode, res.FirstErr)
		}
		passed := l.Quantile(0.99) <= f.p99 && res.ErrorRate() <= f.maxErrors
		if !f.step {
			return accepted, nil
		}
		if !passed {
			fmt.Fprintf(w, "  %s: highest rate with p99 ≤ %v and errors ≤ %.1f%%: %.0f/s\n", t.name, f.p99, 100*f.maxErrors, best)
			return accepted, nil
		}
		best = rate
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
// checks that it stored every event it acknowledged.
func verifyStored(ctx context.Context, w io.Writer, t *target, requests int) error {
	if t.cmd == nil {
		return nil
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		m, err := scrape(ctx, t.url+"/metrics")
		if err != nil {
			return err
		}
		accepted, stored, lag := m[`switchyard_ingested_events_total{outcome="accepted",source="default"}`],
			m[`switchyard_processed_events_total{outcome="stored"}`], m["switchyard_processor_lag_messages"]
		if stored >= accepted && lag == 0 {
			fmt.Fprintf(w, "  durable-ack check: %d requests acknowledged, %.0f events accepted, %.0f stored (including system events)\n",
				requests, accepted, stored)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("durable-ack check: %.0f events accepted but only %.0f stored after 2 minutes", accepted, stored)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// noopServer is the ceiling of the benchmark: net/http reading the body,
// decoding it as JSON and answering {} (reference/perf.md §5.1).
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
