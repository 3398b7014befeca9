package server

import (
	"fmt"
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
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/telemetry"
)

// ingestRoute is one route of the compatible ingest APIs: its handler,
// the decoder replay calls for a route that appends events, and, for
// those, how it answers a request refused under backpressure.
type ingestRoute struct {
	pattern string
	handler http.Handler
	decode  ingest.Decoder
	refuse  func(http.ResponseWriter, *http.Request)
}

// ingestRoutes are the compatible ingest APIs: everything clients and
// SDKs send events to (docs/api.md). Each handler authenticates a
// request, reads it, decodes it with its route's decoder, appends what it
// decoded and answers in its API's dialect.
func ingestRoutes(d Deps) []ingestRoute {
	maxBody := d.Config.MaxBodyBytes
	var routes []ingestRoute
	add := func(pattern string, h http.Handler, dec ingest.Decoder, refuse func(http.ResponseWriter, *http.Request)) {
		routes = append(routes, ingestRoute{pattern: pattern, handler: h, decode: dec, refuse: refuse})
	}
	preflight := func(pattern string) { add(pattern, httpx.Preflight(), nil, nil) }

	// Tracardi collector.
	add("POST /track", httpx.CORS(tracardi.HandleTrack(d.Log, d.Ingest, maxBody)), tracardi.Track, tracardi.Refuse)
	add("PUT /track", httpx.CORS(tracardi.HandleTrackPut(d.Log, maxBody)), nil, nil)
	preflight("OPTIONS /track")
	collect := httpx.CORS(tracardi.HandleCollect(d.Log, d.Ingest, maxBody))
	for _, path := range []string{"/collect/{type}/{source}", "/collect/{type}/{source}/{session}"} {
		add("GET "+path, collect, tracardi.Collect, tracardi.Refuse)
		add("POST "+path, collect, tracardi.Collect, tracardi.Refuse)
		preflight("OPTIONS " + path)
	}

	// Customer.io Track API v1 and v2.
	cio := customerio.New(d.Log, d.Ingest, d.Sources, maxBody)
	v1 := func(pattern string, dec ingest.Decoder) { add(pattern, cio.Serve(dec), dec, customerio.Refuse) }
	add("GET /api/v1/accounts/region", cio.Auth(cio.Region), nil, nil)
	v1("PUT /api/v1/customers/{identifier}", cio.Identify)
	v1("DELETE /api/v1/customers/{identifier}", cio.Delete)
	v1("POST /api/v1/customers/{identifier}/events", cio.Track)
	v1("POST /api/v1/events", cio.TrackAnonymous)
	v1("PUT /api/v1/customers/{identifier}/devices", cio.AddDevice)
	v1("DELETE /api/v1/customers/{identifier}/devices/{device_id}", cio.DeleteDevice)
	v1("POST /api/v1/customers/{identifier}/suppress", cio.Suppress)
	v1("POST /api/v1/customers/{identifier}/unsuppress", cio.Unsuppress)
	v1("POST /api/v1/merge_customers", cio.Merge)
	v1("POST /api/v1/segments/{segment_id}/add_customers", cio.Segment(cdp.OpSegmentAdd))
	v1("POST /api/v1/segments/{segment_id}/remove_customers", cio.Segment(cdp.OpSegmentRemove))
	v1("POST /api/v1/metrics", cio.Metrics)
	v1("POST /api/v1/push/events", cio.PushEvents)
	add("POST /api/v1/forms/{form_id}/submit", cio.ServeForm(cio.SubmitForm), cio.SubmitForm, customerio.Refuse)
	add("POST /unsubscribe/{delivery_id}", cio.ServeUnsubscribe(cio.Unsubscribe), cio.Unsubscribe, customerio.Refuse)
	add("POST /api/v2/entity", cio.ServeV2(cio.Entity), cio.Entity, customerio.Refuse)
	add("POST /api/v2/batch", cio.ServeV2(cio.Batch), cio.Batch, customerio.Refuse)

	// Customer.io Data Pipelines: the server paths, and the browser SDK's
	// one-letter paths (CORS, text/plain).
	for _, typ := range []string{"identify", "track", "page", "screen", "group", "alias", "batch"} {
		serve, dec := cio.ServePipelines(typ), cio.Pipelines(typ)
		add("POST /v1/"+typ, serve, dec, customerio.Refuse)
		add("POST /v1/"+typ[:1], httpx.CORS(serve), dec, customerio.Refuse)
		preflight("OPTIONS /v1/" + typ[:1])
	}

	// Inbound webhooks: Customer.io reporting webhooks and any provider's
	// signed webhooks.
	hooks := webhook.New(d.Log, d.Ingest, d.Metrics, maxBody)
	add("POST /webhooks/{source}", hooks.Receive(), hooks.Decode, webhook.Refuse)
	return routes
}

// addIngestRoutes registers the ingest routes. Each route that appends
// events is refused, before its body is read, while the event log's
// backlog is over its bound (backpressure), in its API's dialect; its
// requests are captured (raw_capture) for the events they append, and
// traced (when tracing is on), outermost, so that the span covers the
// whole request.
func addIngestRoutes(mux *http.ServeMux, d Deps, routes []ingestRoute) {
	for _, rt := range routes {
		h := rt.handler
		if rt.refuse != nil {
			h = httpx.Shed(d.Ingest.Overloaded, rt.pattern, rt.refuse, h)
		}
		if rc := d.Config.RawCapture; rc.Enabled {
			h = httpx.Capture(rc.MaxBodyBytes, h)
		}
		if telemetry.Enabled() {
			h = telemetry.Server(rt.pattern, h)
		}
		mux.Handle(rt.pattern, h)
	}
}

// decoders are the ingest routes' decoders, for replay.
func decoders(routes []ingestRoute) *ingest.Routes {
	table := &ingest.Routes{}
	for _, rt := range routes {
		if rt.decode != nil {
			table.Add(rt.pattern, rt.decode)
		}
	}
	return table
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
		metrics = d.access().Wrap(d.Log, auth.Viewer, metrics)
	}
	mux.Handle("GET /metrics", admin.NewGuard(d.Log, d.Config.Admin.AllowedHosts).API(metrics))
	mux.Handle("GET /asyncapi.json", handleDoc(func(base, host string) catalog.Doc {
		return catalog.AsyncAPI(d.Version, host, planned(d.Ingest.Plans())...)
	}))
	mux.Handle("GET /openapi.json", handleDoc(func(base, host string) catalog.Doc { return catalog.OpenAPI(d.Version, base) }))
}

// addAdminRoutes registers the management API and the console.
func addAdminRoutes(mux *http.ServeMux, d Deps, ingestRoutes []ingestRoute) {
	log, store := d.Log, d.Store
	guard, access := admin.NewGuard(log, d.Config.Admin.AllowedHosts), d.access()
	audit := d.audit()
	roles := catalog.Roles()
	// Each route needs the role the catalogue (and docs/api.md) gives it;
	// the Go runtime's profiles, admin. Every change is audited, refused
	// or not.
	handle := func(pattern string, h http.Handler) {
		role, err := auth.ParseRole(roles[pattern])
		if err != nil {
			panic(fmt.Sprintf("route %s: %v", pattern, err))
		}
		mux.Handle(pattern, guard.API(access.Authenticate(log, audit.Wrap(auth.RequireRole(log, role, h)))))
	}
	handle("GET /admin/v1/audit", admin.ListAudit(log, store))
	handle("GET /admin/v1/events", admin.ListEvents(log, store))
	handle("GET /admin/v1/events/{id}", admin.GetEvent(log, store))
	handle("GET /admin/v1/export/events", admin.ExportEvents(log, store))
	// Replays decode their captured requests again with the ingest
	// routes' decoders.
	replayer := &admin.Replayer{Store: store, Sources: d.Sources, Ingest: d.Ingest, Decoders: decoders(ingestRoutes)}
	if d.Archive != nil {
		replayer.Archive = d.Archive
	}
	handle("POST /admin/v1/events/{id}/replay", admin.ReplayEvent(log, replayer))
	handle("POST /admin/v1/replays", admin.Replays(log, replayer))
	handle("POST /admin/v1/sources/{id}/transform/trial", admin.TryTransform(log, replayer))
	eventCatalog := &admin.Catalog{Store: store, Plans: d.Ingest.Plans}
	handle("GET /admin/v1/catalog", admin.ListCatalog(log, eventCatalog))
	handle("GET /admin/v1/catalog/schema", admin.InferSchema(log, eventCatalog))
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
	// Destinations, alert channels and rules created through the API
	// (the destinations' listing, above, shows them with their state).
	dests := admin.Resources{Log: log, Res: d.Resources, Kind: cdp.ResourceDestination}
	handle("POST /admin/v1/destinations", dests.Create())
	handle("PUT /admin/v1/destinations/{id}", dests.Update())
	handle("DELETE /admin/v1/destinations/{id}", dests.Delete())
	handle("GET /admin/v1/destinations/{id}/versions", dests.Versions())
	channels := admin.Resources{Log: log, Res: d.Resources, Kind: cdp.ResourceAlertChannel}
	handle("GET /admin/v1/alert-channels", channels.List())
	handle("POST /admin/v1/alert-channels", channels.Create())
	handle("GET /admin/v1/alert-channels/{id}", channels.Get())
	handle("PUT /admin/v1/alert-channels/{id}", channels.Update())
	handle("DELETE /admin/v1/alert-channels/{id}", channels.Delete())
	handle("GET /admin/v1/alert-channels/{id}/versions", channels.Versions())
	rules := admin.Resources{Log: log, Res: d.Resources, Kind: cdp.ResourceAlertRule}
	handle("GET /admin/v1/alert-rules", rules.List())
	handle("POST /admin/v1/alert-rules", rules.Create())
	handle("GET /admin/v1/alert-rules/{id}", rules.Get())
	handle("PUT /admin/v1/alert-rules/{id}", rules.Update())
	handle("DELETE /admin/v1/alert-rules/{id}", rules.Delete())
	handle("GET /admin/v1/alert-rules/{id}/versions", rules.Versions())
	plans := admin.Resources{Log: log, Res: d.Resources, Kind: cdp.ResourceTrackingPlan}
	handle("GET /admin/v1/tracking-plans", plans.List())
	handle("POST /admin/v1/tracking-plans", plans.Create())
	handle("GET /admin/v1/tracking-plans/{id}", plans.Get())
	handle("PUT /admin/v1/tracking-plans/{id}", plans.Update())
	handle("DELETE /admin/v1/tracking-plans/{id}", plans.Delete())
	handle("GET /admin/v1/tracking-plans/{id}/versions", plans.Versions())
	handle("POST /admin/v1/plan", admin.Plans(log, &admin.Planner{Sources: d.Sources, Workflows: d.Workflows, Resources: d.Resources}))
	handle("GET /admin/v1/alerts", admin.ListAlerts(log, store))
	handle("POST /admin/v1/workflows/{id}/backfills", admin.CreateBackfill(log, d.Backfills))
	handle("GET /admin/v1/backfills", admin.ListBackfills(log, d.Backfills))
	handle("GET /admin/v1/backfills/{id}", admin.GetBackfill(log, d.Backfills))
	handle("POST /admin/v1/backfills/{id}/cancel", admin.CancelBackfill(log, d.Backfills))
	handle("GET /admin/v1/runs", admin.ListRuns(log, store))
	handle("POST /admin/v1/runs/retry", admin.RetryRuns(log, store, d.Enqueue))
	handle("GET /admin/v1/runs/{id}", admin.GetRun(log, store))
	handle("POST /admin/v1/runs/{id}/retry", admin.RetryRun(log, store, d.Enqueue))

	addConsoleRoutes(mux, d, guard, access, audit, eventCatalog)

	// Go runtime profiles, for measuring before optimising.
	handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
	handle("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	handle("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
	handle("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
}

// addConsoleRoutes registers the web console: HTML pages over the same
// services as the management API, with the same access.
func addConsoleRoutes(mux *http.ServeMux, d Deps, guard *admin.Guard, access *auth.Access, audit *admin.Audit, eventCatalog *admin.Catalog) {
	con := console.MustNew(console.Deps{Log: d.Log, Store: d.Store, Sources: d.Sources, Workflows: d.Workflows,
		Metrics: d.Metrics, Access: access, Destinations: d.Destinations, Audit: audit, Resources: d.Resources, Catalog: eventCatalog})
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
	page("GET /console/destinations/{id}", con.Destination())
	page("GET /console/alerts", con.Alerts())
	page("GET /console/audit", con.Audit())
	page("GET /console/catalog", con.Catalog())
	page("GET /console/", con.NotFound())
	// The listener that serves the console sends a browser opening its root there.
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
}
