package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchyardhq/switchyard/internal/app"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/memlimit"
	"github.com/switchyardhq/switchyard/internal/server"
	"github.com/switchyardhq/switchyard/internal/telemetry"
	"github.com/switchyardhq/switchyard/internal/version"
)

// shutdownTimeout bounds how long in-flight requests may take to finish.
const shutdownTimeout = 20 * time.Second

// idleTimeout closes keep-alive connections that carry no request.
const idleTimeout = 60 * time.Second

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(telemetry.LogHandler(h))
}

// tracingOn reports whether to trace: the tracing block says so, or the
// standard OTEL_TRACES_EXPORTER=otlp does; OTEL_SDK_DISABLED=true wins.
func tracingOn(cfg config.Tracing, getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return cfg.Enabled || getenv("OTEL_TRACES_EXPORTER") == "otlp"
}

// serve runs the server until ctx is done or SIGINT/SIGTERM arrives, then
// shuts down in dependency order: listeners (draining requests, which
// wait for their event-log acks), processor, event log, store.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags, err := parseServeFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(flags, getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := newLogger(cfg.Log, stderr)
	slog.SetDefault(log)
	if getenv("GOMEMLIMIT") == "" && cfg.MemoryLimitBytes > 0 {
		g := &memlimit.Governor{Base: cfg.MemoryLimitBytes, Interval: time.Second, Log: log.With("component", "memlimit")}
		go g.Run(ctx)
	}

	// Tracing stops last (deferred first), so the spans of the shutdown
	// are sent too.
	stopTracing, err := telemetry.Setup(ctx, telemetry.Settings{Enabled: tracingOn(cfg.Tracing, getenv), Endpoint: cfg.Tracing.Endpoint,
		SamplingRatio: cfg.Tracing.SamplingRatio, Version: version.String()})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(ctx); err != nil {
			log.Warn("tracing: the last spans were not sent", "err", err)
		}
	}()

	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	a.Version = version.String()
	defer a.Close()
	servers, err := listen(cfg, a)
	if err != nil {
		return err
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.srv.Serve(s.ln) }()
	}
	printBanner(stdout, cfg, servers, a.Sources)
	log.Info("switchyard started", "version", version.String(), "listen", servers[0].ln.Addr().String(), "data_dir", cfg.DataDir,
		"max_connections", server.MaxConnections(cfg.MaxConnections))

	select {
	case <-ctx.Done():
	case err := <-a.Failed():
		log.Error("shutting down", "err", err)
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("listener failed", "err", err)
		}
	}
	// A second Ctrl-C or SIGTERM now ends the process at once: acknowledged
	// events are in the event log, which a restart resumes.
	stop()
	log.Info("shutting down")
	a.Hub.Close() // live tails end now, not at the shutdown timeout
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.srv.Shutdown(shutCtx); err != nil {
			log.Warn("listener shutdown", "err", err)
		}
	}
	return nil // deferred: a.Close stops the processor, closes the event log and the store
}

type listener struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

func listen(cfg *config.Config, a *app.App) ([]listener, error) {
	newServer := func(h http.Handler) *http.Server {
		// No WriteTimeout: the tail streams for as long as its client wants.
		// Idle keep-alive connections close after a minute, so that idle
		// clients do not hold connections up to the cap.
		return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
			IdleTimeout: idleTimeout, ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
	}
	maxConns := server.MaxConnections(cfg.MaxConnections)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ln = server.LimitListener(ln, maxConns)
	out := []listener{{"main", newServer(a.Handler()), ln}}
	if cfg.Admin.Listen != "" {
		aln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin listen: %w", err)
		}
		out = append(out, listener{"admin", newServer(a.AdminHandler()), server.LimitListener(aln, maxConns)})
	}
	return out, nil
}

// baseURL turns a listener address into a URL a local client can use.
func baseURL(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// generated reports whether src is a default source the server made with
// random credentials, whose credentials the banner may print: those of
// sources an operator configured or created are theirs to keep, and the
// banner ends up in logs.
func generated(src *cdp.Source) bool {
	return src.Origin != cdp.OriginConfig && (src.ID == ingest.DefaultCustomerIOSourceID || src.ID == ingest.DefaultPipelinesSourceID)
}

// engines names the event log and the store cfg uses, with the external
// ones' addresses but never their credentials.
func engines(cfg *config.Config) string {
	evlog, store := "embedded NATS JetStream", "SQLite"
	if cfg.NATSURL != "" {
		var hosts []string
		for _, s := range strings.Split(cfg.NATSURL, ",") {
			if u, err := url.Parse(strings.TrimSpace(s)); err == nil {
				hosts = append(hosts, u.Host)
			}
		}
		evlog = "NATS JetStream at " + strings.Join(hosts, ",")
	}
	if cfg.PostgresURL != "" {
		store = "PostgreSQL"
		if u, err := url.Parse(cfg.PostgresURL); err == nil && u.Host != "" {
			store += " at " + u.Host + u.Path
		}
	}
	return evlog + " + " + store
}

func printBanner(w io.Writer, cfg *config.Config, servers []listener, sources *ingest.Sources) {
	main := baseURL(servers[0].ln.Addr())
	adminURL := main
	if len(servers) > 1 {
		adminURL = baseURL(servers[1].ln.Addr())
	}
	auth, curlAuth := "bearer token (admin.tokens)", ` -H "Authorization: Bearer $SWITCHYARD_ADMIN_TOKEN"`
	if len(cfg.Admin.Tokens) == 0 {
		auth, curlAuth = "loopback clients only: set admin.tokens to open it", ""
	}
	fmt.Fprintf(w, "Switchyard %s is ready\n", version.String())
	fmt.Fprintf(w, "  ingest:      %s\n", main)
	fmt.Fprintf(w, "  management:  %s/admin/v1 (%s)\n", adminURL, auth)
	fmt.Fprintf(w, "  console:     %s/console/\n", adminURL)
	fmt.Fprintf(w, "  metrics:     %s/metrics\n", main)
	fmt.Fprintf(w, "  data:        %s (%s, durability %s)\n", cfg.DataDir, engines(cfg), cfg.Durability)
	if adminURL != main {
		fmt.Fprintf(w, "  the management API has a listener of its own: switchyard tail and listen need --url %s, send --admin-url %s\n", adminURL, adminURL)
	}
	shown := map[string]bool{} // the curl lines, once per kind
	for _, src := range sources.List() {
		if !src.Enabled {
			continue
		}
		first := !shown[src.Kind]
		shown[src.Kind] = true
		switch src.Kind {
		case cdp.SourceTrack:
			fmt.Fprintf(w, "  source %q (kind %s): Tracardi trackers use %s/track", src.ID, src.Kind, main)
			if !first {
				fmt.Fprintln(w)
				break
			}
			fmt.Fprintf(w, "; send a first event:\n")
			fmt.Fprintf(w, "    curl -s %s/track -H 'content-type: application/json' -d '{\"source\":{\"id\":\"%s\"},\"events\":[{\"type\":\"page-view\",\"properties\":{\"title\":\"Hello\"}}]}'\n", main, src.ID)
			fmt.Fprintf(w, "    curl -s%s '%s/admin/v1/events?source=%s'\n", curlAuth, adminURL, src.ID)
		case cdp.SourceCustomerIOTrack:
			creds := "its site_id and api_key"
			if generated(src) {
				creds = fmt.Sprintf("site_id %s, api_key %s", src.SiteID, src.APIKey)
			}
			fmt.Fprintf(w, "  source %q (kind %s): Customer.io Track API clients: go-customerio customerio.WithURL(%q), customerio-node 5 or later {url: %q}; %s\n",
				src.ID, src.Kind, main, main+"/api/v1", creds)
			if first && generated(src) {
				fmt.Fprintf(w, "    curl -s -u %s:%s -X PUT %s/api/v1/customers/42 -H 'content-type: application/json' -d '{\"email\":\"ann@example.com\"}'\n", src.SiteID, src.APIKey, main)
			}
		case cdp.SourceCustomerIOPipelines:
			creds := "its write key"
			if generated(src) {
				creds = "write key " + src.WriteKey
			}
			fmt.Fprintf(w, "  source %q (kind %s): Data Pipelines clients: analytics-node, analytics-go and cdp-analytics host/endpoint %q, customerio-node 5 or later {url: %q}; %s\n",
				src.ID, src.Kind, main, main+"/v1", creds)
			if first && generated(src) {
				fmt.Fprintf(w, "    curl -s -u %s: %s/v1/track -H 'content-type: application/json' -d '{\"userId\":\"42\",\"event\":\"Course Started\"}'\n", src.WriteKey, main)
			}
		case cdp.SourceCustomerIOWebhook:
			fmt.Fprintf(w, "  source %q (kind %s): paste %s/webhooks/%s into Customer.io's reporting webhook\n", src.ID, src.Kind, main, src.ID)
		case cdp.SourceWebhook:
			fmt.Fprintf(w, "  source %q (kind %s): the provider posts to %s/webhooks/%s\n", src.ID, src.Kind, main, src.ID)
		}
	}
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}
