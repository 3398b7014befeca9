package server

import (
	"net/http"
	"net/http/pprof"

	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/api/customerio"
	"github.com/switchyardhq/switchyard/internal/api/tracardi"
	"github.com/switchyardhq/switchyard/internal/api/webhook"
	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/catalog"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/console"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/telemetry"
)

// addIngestRoutes registers the compatible ingest APIs: everything
// clients and SDKs send events to. Each route that appends events is
// refused, before its body is read, while the event log's backlog is over
// its bound (backpressure), in its API's dialect.
func addIngestRoutes(mux *http.ServeMux, d Deps) {
	maxBody := d.Config.MaxBodyBytes
	// Every ingest request is captured (raw_capture) for the events it appends.
	// Each is traced (when tracing is on), outermost, so that the span
	// covers the whole request.
	route := mux.Handle
	if telemetry.Enabled() {
		route = func(pattern string, h http.Handler) { mux.Handle(pattern, telemetry.Server(pattern, h)) }
	}
	handle := route
	if rc := d.Config.RawCapture; rc.Enabled {
		handle = func(pattern string, h http.Handler) { route(pattern, httpx.Capture(rc.MaxBodyBytes, h)) }
	}
	shed := func(refuse func(http.ResponseWriter, *http.Request)) func(string, http.Handler) {
		return func(pattern string, h http.Handler) {
			handle(pattern, httpx.Shed(d.Ingest.Overloaded, pattern, refuse, h))
		}
	}
	track, cioRoute, hook := shed(tracardi.Refuse), shed(customerio.Refuse), shed(webhook.Refuse)

	// Tracardi collector (docs/api.md).
	track("POST /track", httpx.CORS(tracardi.HandleTrack(d.Log, d.Ingest, maxBody)))
	handle("PUT /track", httpx.CORS(tracardi.HandleTrackPut(d.Log, maxBody)))
	handle("OPTIONS /track", httpx.Preflight())
	collect := httpx.CORS(tracardi.HandleCollect(d.Log, d.Ingest, maxBody))
	for _, path := range []string{"/collect/{type}/{source}", "/collect/{type}/{source}/{session}"} {
		track("GET "+path, collect)
		track("POST "+path, collect)
		handle("OPTIONS "+path, httpx.Preflight())
	}

	// Customer.io Track API v1 and v2 (docs/api.md).
	cio := customerio.New(d.Log, d.Ingest, d.Sources, maxBody)
	handle("GET /api/v1/accounts/region", cio.Auth(cio.Region))
	cioRoute("PUT /api/v1/customers/{identifier}", cio.Auth(cio.Identify))
	cioRoute("DELETE /api/v1/customers/{identifier}", cio.Auth(cio.Delete))
	cioRoute("POST /api/v1/customers/{identifier}/events", cio.Auth(cio.Track))
	cioRoute("POST /api/v1/events", cio.Auth(cio.TrackAnonymous))
	cioRoute("PUT /api/v1/customers/{identifier}/devices", cio.Auth(cio.AddDevice))
	cioRoute("DELETE /api/v1/customers/{identifier}/devices/{device_id}", cio.Auth(cio.DeleteDevice))
	cioRoute("POST /api/v1/customers/{identifier}/suppress", cio.Auth(cio.Suppress))
	cioRoute("POST /api/v1/customers/{identifier}/unsuppress", cio.Auth(cio.Unsuppress))
	cioRoute("POST /api/v1/merge_customers", cio.Auth(cio.Merge))
	cioRoute("POST /api/v1/segments/{segment_id}/add_customers", cio.Auth(cio.Segment(cdp.OpSegmentAdd)))
	cioRoute("POST /api/v1/segments/{segment_id}/remove_customers", cio.Auth(cio.Segment(cdp.OpSegmentRemove)))
	cioRoute("POST /api/v1/metrics", cio.Auth(cio.Metrics))
	cioRoute("POST /api/v1/push/events", cio.Auth(cio.PushEvents))
	cioRoute("POST /api/v1/forms/{form_id}/submit", cio.Auth(cio.SubmitForm))
	cioRoute("POST /unsubscribe/{delivery_id}", cio.Unsubscribe())
	cioRoute("POST /api/v2/entity", cio.Auth(cio.Entity))
	cioRoute("POST /api/v2/batch", cio.Auth(cio.Batch))

	// Customer.io Data Pipelines (docs/api.md): the server
	// paths, and the browser SDK's one-letter paths (CORS, text/plain).
	for _, typ := range []string{"identify", "track", "page", "screen", "group", "alias", "batch"} {
		cioRoute("POST /v1/"+typ, cio.Pipelines(typ))
		cioRoute("POST /v1/"+typ[:1], httpx.CORS(cio.Pipelines(typ)))
		handle("OPTIONS /v1/"+typ[:1], httpx.Preflight())
	}

	// Inbound webhooks: Customer.io reporting webhooks and any provider's
	// signed webhooks (docs/api.md).
	hook("POST /webhooks/{source}", webhook.New(d.Log, d.Ingest, d.Metrics, maxBody).Receive())
}

// addOpsRoutes registers health, readiness and metrics.
func addOpsRoutes(mux *http.ServeMux, d Deps) {
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d))
	// With tokens, metrics need one too (Prometheus sends it as a bearer
	// token); without, they stay open as the health checks are, to the
	// Hosts and sites the management API answers to.
	metrics := handleMetrics(d)
	if len(d.Config.Admin.Tokens) > 0 {
		metrics = d.access().Wrap(d.Log, metrics)
	}
	mux.Handle("GET /metrics", admin.NewGuard(d.Log, d.Config.Admin.AllowedHosts).API(metrics))
	mux.Handle("GET /asyncapi.json", handleDoc(func(base, host string) catalog.Doc { return catalog.AsyncAPI(d.Version, host) }))
	mux.Handle("GET /openapi.json", handleDoc(func(base, host string) catalog.Doc { return catalog.OpenAPI(d.Version, base) }))
}

// addAdminRoutes registers the management API and the console.
func addAdminRoutes(mux *http.ServeMux, d Deps) {
	log, store := d.Log, d.Store
	guard, access := admin.NewGuard(log, d.Config.Admin.AllowedHosts), d.access()
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, guard.API(access.Wrap(log, h)))
	}
	handle("GET /admin/v1/events", admin.ListEvents(log, store))
	handle("GET /admin/v1/events/{id}", admin.GetEvent(log, store))
	// Replays go through the ingest routes again, as their requests did.
	ingestRoutes := http.NewServeMux()
	addIngestRoutes(ingestRoutes, d)
	replayer := &admin.Replayer{Store: store, Sources: d.Sources, Ingest: ingestRoutes}
	handle("POST /admin/v1/events/{id}/replay", admin.ReplayEvent(log, replayer))
	handle("POST /admin/v1/replays", admin.Replays(log, replayer))
	handle("GET /admin/v1/profiles", admin.FindProfile(log, store))
	handle("GET /admin/v1/profiles/{id}", admin.GetProfile(log, store))
	handle("GET /admin/v1/profiles/{id}/events", admin.ProfileEvents(log, store))
	handle("DELETE /admin/v1/profiles/{id}", admin.DeleteProfile(log, d.Identity))
	handle("GET /admin/v1/sessions/{id}", admin.GetSession(log, store))
	handle("GET /admin/v1/sources", admin.ListSources(d.Sources))
	handle("POST /admin/v1/sources", admin.CreateSource(log, d.Sources))
	handle("GET /admin/v1/sources/{id}", admin.GetSource(log, d.Sources))
	handle("PUT /admin/v1/sources/{id}", admin.UpdateSource(log, d.Sources))
	handle("DELETE /admin/v1/sources/{id}", admin.DeleteSource(log, d.Sources))
	handle("GET /admin/v1/tail", admin.Tail(log, d.Hub, store))
	handle("GET /admin/v1/workflows", admin.ListWorkflows(d.Workflows))
	handle("POST /admin/v1/workflows", admin.CreateWorkflow(log, d.Workflows))
	handle("GET /admin/v1/workflows/{id}", admin.GetWorkflow(log, d.Workflows))
	handle("PUT /admin/v1/workflows/{id}", admin.UpdateWorkflow(log, d.Workflows))
	handle("DELETE /admin/v1/workflows/{id}", admin.DeleteWorkflow(log, d.Workflows))
	handle("GET /admin/v1/workflows/{id}/versions", admin.WorkflowVersions(log, d.Workflows))
	handle("POST /admin/v1/workflows/dry-run", admin.DryRunWorkflow(log, d.Workflows, store))
	handle("GET /admin/v1/destinations", admin.ListDestinations(log, d.Destinations))
	handle("GET /admin/v1/destinations/{id}", admin.GetDestination(log, d.Destinations))
	handle("POST /admin/v1/destinations/{id}/pause", admin.PauseDestination(log, d.Destinations))
	handle("POST /admin/v1/destinations/{id}/resume", admin.ResumeDestination(log, d.Destinations))
	handle("GET /admin/v1/alerts", admin.ListAlerts(log, store))
	handle("POST /admin/v1/workflows/{id}/backfills", admin.CreateBackfill(log, d.Backfills))
	handle("GET /admin/v1/backfills", admin.ListBackfills(log, d.Backfills))
	handle("GET /admin/v1/backfills/{id}", admin.GetBackfill(log, d.Backfills))
	handle("POST /admin/v1/backfills/{id}/cancel", admin.CancelBackfill(log, d.Backfills))
	handle("GET /admin/v1/runs", admin.ListRuns(log, store))
	handle("POST /admin/v1/runs/retry", admin.RetryRuns(log, store, d.Enqueue))
	handle("GET /admin/v1/runs/{id}", admin.GetRun(log, store))
	handle("POST /admin/v1/runs/{id}/retry", admin.RetryRun(log, store, d.Enqueue))

	addConsoleRoutes(mux, d, guard, access)

	// Go runtime profiles, for measuring before optimising.
	handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
	handle("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	handle("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
	handle("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
}

// addConsoleRoutes registers the web console: HTML pages over the same
// services as the management API, with the same access.
func addConsoleRoutes(mux *http.ServeMux, d Deps, guard *admin.Guard, access *auth.Access) {
	con := console.MustNew(console.Deps{Log: d.Log, Store: d.Store, Sources: d.Sources, Workflows: d.Workflows,
		Metrics: d.Metrics, Access: access, Destinations: d.Destinations})
	page := func(pattern string, h http.Handler) { mux.Handle(pattern, guard.Page(h)) }
	page("GET /console/static/", con.Static())
	page("GET /console/signin", con.SignInPage())
	mux.Handle("POST /console/signin", guard.Form(con.SignIn()))
	mux.Handle("POST /console/signout", guard.Form(con.SignOut()))
	page("GET /console/{$}", con.Overview())
	page("GET /console/live", con.Live())
	page("GET /console/events", con.Events())
	page("GET /console/events/{id}", con.Event())
	page("GET /console/profiles", con.Profiles())
	page("GET /console/profiles/{id}", con.Profile())
	page("GET /console/sources", con.Sources())
	page("GET /console/sources/{id}", con.Source())
	page("GET /console/workflows", con.Workflows())
	page("GET /console/workflows/{id}", con.Workflow())
	page("GET /console/runs", con.Runs())
	page("GET /console/runs/{id}", con.Run())
	page("GET /console/destinations", con.Destinations())
	page("GET /console/alerts", con.Alerts())
	page("GET /console/", con.NotFound())
	// The listener that serves the console sends a browser opening its root there.
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
}
