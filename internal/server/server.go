// Package server assembles Switchyard's HTTP surface: routes.go lists every
// path; this file adds health, readiness, metrics and the middleware every
// request passes through.
package server

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/archive"
	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/catalog"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/resources"
	"github.com/switchyardhq/switchyard/internal/tail"
	"github.com/switchyardhq/switchyard/internal/workflow"
)

// Deps are everything the handlers need; run builds them.
type Deps struct {
	Log        *slog.Logger
	Config     *config.Config
	Store      cdp.Store
	EventLog   cdp.EventLog
	Ingest     *ingest.Service
	Sources    *ingest.Sources
	Workflows  *workflow.Registry
	Identity   *identity.Service
	Hub        *tail.Hub
	Prometheus *prometheus.Registry
	Metrics    *metrics.Metrics
	Version    string
	// Enqueue hands workflow runs to the runners (retries).
	Enqueue admin.Enqueue
	// Sessions keeps the console's sign-ins, shared by every node.
	Sessions auth.Sessions
	// Destinations are the destinations with their breakers and health.
	Destinations *admin.Destinations
	// Backfills run workflows over stored events.
	Backfills *workflow.Backfills
	// Archive reads archived events and requests back (nil: no archive).
	Archive *archive.Reader
	// Resources are the destinations and alerts created through the
	// management API.
	Resources *resources.Resources
}

// access is who may use the management API, the console and, with tokens,
// the metrics.
func (d Deps) access() *auth.Access {
	return &auth.Access{Tokens: d.Config.Admin.AccessTokens(), Sessions: d.Sessions}
}

// audit records the management API's changes and the console's sign-ins.
func (d Deps) audit() *admin.Audit {
	a := &admin.Audit{Store: d.Store, Log: d.Log}
	if d.Destinations != nil {
		a.SecretKeys = d.Destinations.Registry.SecretSettings()
	}
	return a
}

// New returns the main listener's handler: ingest, operations and, unless
// the management API has a listener of its own, the management API.
func New(d Deps) http.Handler {
	mux := http.NewServeMux()
	routes := ingestRoutes(d)
	addIngestRoutes(mux, d, routes)
	addOpsRoutes(mux, d)
	if d.Config.Admin.Listen == "" {
		addAdminRoutes(mux, d, routes)
	}
	return wrap(d, mux)
}

// NewAdmin returns the handler of the separate management listener.
func NewAdmin(d Deps) http.Handler {
	mux := http.NewServeMux()
	addAdminRoutes(mux, d, ingestRoutes(d)) // for their decoders: replay
	addOpsRoutes(mux, d)
	return wrap(d, mux)
}

// wrap adds recovery, per-route metrics and JSON bodies for the mux's own
// 404 and 405 answers (clients of these APIs break on non-JSON bodies).
func wrap(d Deps, mux *http.ServeMux) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			notFound(w, r, mux)
			return
		}
		rec := httpx.NewStatusRecorder(w)
		mux.ServeHTTP(rec, r)
		d.Metrics.HTTPRequests.WithLabelValues(r.Pattern, strconv.Itoa(rec.Status)).Inc()
	})
	proxies, _ := httpx.ParseProxies(d.Config.TrustedProxies) // Validate checked them
	return httpx.Recover(d.Log, httpx.Forwarded(proxies, h))
}

// notFound renders the mux's 404 or 405 as JSON, keeping its Allow header.
func notFound(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	probe := &headerRecorder{header: http.Header{}}
	mux.ServeHTTP(probe, r)
	if allow := probe.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	status := probe.status
	if status != http.StatusMethodNotAllowed {
		status = http.StatusNotFound
	}
	code, msg := cdp.ENOTFOUND, "no such path: "+r.URL.Path
	if status == http.StatusMethodNotAllowed {
		code, msg = "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path
	}
	httpx.WriteJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(status int)      { h.status = status }

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz reports ready when the store and the event log answer and
// the data directory's disk has room.
func handleReadyz(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		checks := map[string]string{"store": "ok", "event_log": "ok"}
		status := http.StatusOK
		if err := d.Store.Ping(ctx); err != nil {
			checks["store"], status = err.Error(), http.StatusServiceUnavailable
		}
		if err := d.EventLog.Ping(ctx); err != nil {
			checks["event_log"], status = err.Error(), http.StatusServiceUnavailable
		}
		state := "ready"
		if status != http.StatusOK {
			state = "unavailable"
		}
		// Over its bound the backlog makes the ingest APIs refuse with
		// Retry-After; readiness stays 200, since every node shares the
		// one backlog and a balancer would otherwise drop them all at once.
		backlog := d.Ingest.Backlog()
		checks["backlog"] = "ok"
		if backlog.Over {
			checks["backlog"] = "over its bound: ingest requests are refused with Retry-After until the store catches up"
			if state == "ready" {
				state = "overloaded"
			}
		}
		// A full disk is this node's own: not ready while it lasts, so a
		// balancer sends clients elsewhere.
		checks["disk"] = "ok"
		if st := d.Ingest.Disk(); st.Low {
			checks["disk"], status, state = st.String(), http.StatusServiceUnavailable, "unavailable"
		}
		httpx.WriteJSON(w, status, map[string]any{"status": state, "checks": checks, "backlog": backlog})
	})
}

func handleMetrics(d Deps) http.Handler {
	return promhttp.HandlerFor(d.Prometheus, promhttp.HandlerOpts{Registry: d.Prometheus})
}

// handleDoc serves a generated API document for the host the client used.
func handleDoc(build func(baseURL, host string) catalog.Doc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		httpx.WriteJSON(w, http.StatusOK, build(scheme+"://"+r.Host, r.Host))
	})
}

// planned lists what the tracking plans in force declare, for the
// AsyncAPI document.
func planned(ps *quality.Plans) []catalog.Planned {
	var out []catalog.Planned
	for _, p := range ps.All() {
		mode := p.Mode
		if mode == "" {
			mode = cdp.PlanFlag
		}
		for _, typ := range slices.Sorted(maps.Keys(p.Events)) {
			ev := p.Events[typ]
			out = append(out, catalog.Planned{Plan: p.ID, Mode: mode, Type: typ, Description: ev.Description, Sources: p.Sources, Properties: ev.Properties})
		}
	}
	return out
}
