package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// Replayer decodes captured requests again, with their route's decoder
// and the sources' current configuration (a fixed event_type expression,
// a changed source), and appends the new events, marked replay_of the
// originals. A replay is not authenticated again (the request was on
// arrival, and its capture masks the credentials) nor held to the
// source's rate limit, but it waits, like any request, while the event
// log is overloaded.
type Replayer struct {
	Store   cdp.Store
	Sources interface {
		Get(id string) (*cdp.Source, bool)
	}
	Ingest *ingest.Service
	// Decoders are the ingest routes' decoders, by route.
	Decoders *ingest.Routes
	// Archive, if set, reads the archive back: a replay FromArchive walks
	// its events, and every replay finds there the requests the store's
	// capture retention removed.
	Archive Archive
}

// Archive is what a replay reads from the archive (archive.Reader).
type Archive interface {
	// Events returns up to limit events of source received in [since,
	// until), after cursor, and the cursor after them ("" at the end).
	Events(ctx context.Context, since, until time.Time, source, cursor string, limit int) ([]*cdp.Event, string, error)
	// Requests returns the captured requests of source under ids that the
	// archive holds, by id.
	Requests(ctx context.Context, source string, ids []string) (map[string]*cdp.RawRequest, error)
}

// ReplayRequest selects the events whose requests to replay.
type ReplayRequest struct {
	Source string `json:"source"`
	Since  string `json:"since"`
	Until  string `json:"until"`
	// Filter is a CEL expression over the original event.
	Filter string `json:"filter"`
	DryRun bool   `json:"dry_run"`
	// Force replays requests replayed before (their events are stored
	// again); without it a second replay stores nothing new.
	Force bool `json:"force"`
	// RerunWorkflows runs again, for the new events, the workflows that
	// ran for the originals; without it they do not run twice.
	RerunWorkflows bool `json:"rerun_workflows"`
	// FromArchive reads the events from the archive instead of the store:
	// for events older than the store keeps.
	FromArchive bool `json:"from_archive"`
	// Limit and Cursor page through the selection (100 events a call).
	Limit  int    `json:"limit"`
	Cursor string `json:"cursor"`
}

// ReplaySummary is what a replay call selected and did.
type ReplaySummary struct {
	Selected int `json:"selected"` // events selected (this page, or all on a dry run)
	Requests int `json:"requests"` // their captured requests
	Replayed int `json:"replayed"` // requests fed back
	Events   int `json:"events"`   // events those made (a repeat of an earlier replay is dropped when stored)
	// Missing are selected events whose request cannot be replayed, and
	// Failed the replays the route refused (the first 100 of each).
	Missing    []ReplayProblem `json:"missing"`
	Failed     []ReplayProblem `json:"failed"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// ReplayProblem is an event whose request was not replayed, and why.
type ReplayProblem struct {
	EventID string `json:"event_id"`
	Reason  string `json:"reason"`
}

const maxProblems = 100

func (s *ReplaySummary) problem(list *[]ReplayProblem, id, reason string) {
	if len(*list) < maxProblems {
		*list = append(*list, ReplayProblem{id, reason})
	}
}

// Replay replays the requests of the events r selects: one page of them,
// or, on a dry run, counts the whole selection.
func (rp *Replayer) Replay(ctx context.Context, r ReplayRequest) (*ReplaySummary, error) {
	src, ok := rp.Sources.Get(r.Source)
	if !ok {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "source %q not found", r.Source)
	}
	sel, err := newSelection(r)
	if err != nil {
		return nil, err
	}
	sum := &ReplaySummary{Missing: []ReplayProblem{}, Failed: []ReplayProblem{}}
	limit, cursor := min(max(r.Limit, 1), 1000), r.Cursor
	if r.Limit == 0 {
		limit = 100
	}
	if r.DryRun {
		limit, cursor = 1000, ""
	}
	pages, err := rp.pages(src.ID, sel, r.FromArchive)
	if err != nil {
		return nil, err
	}
	how := replayHow{rerun: r.RerunWorkflows}
	if r.Force {
		how.nonce = cdp.NewID()
	}
	for {
		page, next, err := pages(ctx, cursor, limit)
		if err != nil {
			return nil, err
		}
		events := sel.keep(ctx, page)
		sum.Selected += len(events)
		rp.replayAll(ctx, src, events, r.DryRun, how, sum)
		if !r.DryRun || next == "" {
			sum.NextCursor = next
			return sum, nil
		}
		cursor = next
	}
}

// pages reads a replay's events a page at a time, oldest first within a
// page: from the store (pages newest first) or from the archive (oldest
// first).
func (rp *Replayer) pages(source string, sel *selection, fromArchive bool) (func(ctx context.Context, cursor string, limit int) ([]*cdp.Event, string, error), error) {
	if !fromArchive {
		return func(ctx context.Context, cursor string, limit int) ([]*cdp.Event, string, error) {
			page, next, err := rp.Store.FindEvents(ctx, cdp.EventFilter{SourceID: source, Since: sel.since, Limit: limit, Cursor: cursor})
			slices.Reverse(page)
			return page, next, err
		}, nil
	}
	if rp.Archive == nil {
		return nil, cdp.Errorf(cdp.EINVALID, "from_archive: this server has no archive configured")
	}
	return func(ctx context.Context, cursor string, limit int) ([]*cdp.Event, string, error) {
		until := sel.until
		if until.IsZero() {
			until = time.Now()
		}
		return rp.Archive.Events(ctx, sel.since, until, source, cursor, limit)
	}, nil
}

// replayHow is what a replay asks beyond its selection: a fresh round of
// dedup keys (nonce, when forced) and whether workflows run again.
type replayHow struct {
	nonce string
	rerun bool
}

// ReplayEvent replays the request that carried one event.
func (rp *Replayer) ReplayEvent(ctx context.Context, id string, force, rerun bool) (*ReplaySummary, error) {
	e, err := rp.Store.FindEventByID(ctx, id)
	if err != nil {
		return nil, err
	}
	src, ok := rp.Sources.Get(e.SourceID)
	if !ok {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "source %q of the event no longer exists", e.SourceID)
	}
	how := replayHow{rerun: rerun}
	if force {
		how.nonce = cdp.NewID()
	}
	sum := &ReplaySummary{Selected: 1, Missing: []ReplayProblem{}, Failed: []ReplayProblem{}}
	rp.replayAll(ctx, src, []*cdp.Event{e}, false, how, sum)
	return sum, nil
}

// replayAll replays each request of events (oldest first) once.
func (rp *Replayer) replayAll(ctx context.Context, src *cdp.Source, events []*cdp.Event, dry bool, how replayHow, sum *ReplaySummary) {
	byRequest := map[string][]string{}
	first := map[string]*cdp.Event{} // each request's first original: whose profile and session it was
	var order []string
	for _, e := range events {
		if e.RequestID == "" {
			sum.problem(&sum.Missing, e.ID, "its request was not captured (raw_capture was off)")
			continue
		}
		if _, seen := byRequest[e.RequestID]; !seen {
			order = append(order, e.RequestID)
			first[e.RequestID] = e
		}
		byRequest[e.RequestID] = append(byRequest[e.RequestID], e.ID)
	}
	sum.Requests += len(order)
	raws := rp.requests(ctx, src.ID, order, byRequest, sum)
	for _, req := range order {
		originals := byRequest[req]
		raw, ok := raws[req]
		switch {
		case !ok:
			continue
		case raw.Truncated:
			sum.problem(&sum.Missing, originals[0], "its captured request was cut at raw_capture.max_body_bytes: replaying it would guess")
			continue
		case dry:
			continue
		}
		r := &ingest.Replay{Source: src, RequestID: req, Originals: originals, Force: how.nonce, Rerun: how.rerun,
			ProfileID: first[req].ProfileID, SessionID: first[req].SessionID}
		made, err := rp.replayOne(ctx, raw, r)
		if err != nil {
			sum.problem(&sum.Failed, originals[0], err.Error())
			continue
		}
		sum.Replayed++
		sum.Events += made
	}
}

// requests finds the captured requests under ids: in the store, else in
// the archive. Those found nowhere are counted missing (by their first
// original event, of byRequest).
func (rp *Replayer) requests(ctx context.Context, source string, ids []string, byRequest map[string][]string, sum *ReplaySummary) map[string]*cdp.RawRequest {
	raws := map[string]*cdp.RawRequest{}
	var gone []string
	for _, id := range ids {
		raw, err := rp.Store.FindRawRequest(ctx, id)
		switch {
		case cdp.ErrorCode(err) == cdp.ENOTFOUND:
			gone = append(gone, id)
		case err != nil:
			sum.problem(&sum.Failed, byRequest[id][0], err.Error())
		default:
			raws[id] = raw
		}
	}
	why := "its captured request is gone (raw_capture.retention passed)"
	if len(gone) > 0 && rp.Archive != nil {
		why = "its captured request is gone (raw_capture.retention passed) and the archive does not hold it (archive.requests)"
		archived, err := rp.Archive.Requests(ctx, source, gone)
		if err != nil {
			for _, id := range gone {
				sum.problem(&sum.Failed, byRequest[id][0], err.Error())
			}
			return raws
		}
		maps.Copy(raws, archived)
	}
	for _, id := range gone {
		if raws[id] == nil {
			sum.problem(&sum.Missing, byRequest[id][0], why)
		}
	}
	return raws
}

// replayOne decodes one captured request again and appends its events
// as replay r.
func (rp *Replayer) replayOne(ctx context.Context, raw *cdp.RawRequest, r *ingest.Replay) (int, error) {
	if _, over := rp.Ingest.Overloaded("replay"); over {
		return 0, errors.New("the event log is overloaded: replay it again later")
	}
	dec, err := rp.decode(ctx, raw, r.Source)
	if err != nil {
		return 0, err
	}
	return rp.Ingest.Replay(ctx, r, dec)
}

// decode decodes one captured request again, with its route's decoder
// and src's current configuration.
func (rp *Replayer) decode(ctx context.Context, raw *cdp.RawRequest, src *cdp.Source) (ingest.Decoded, error) {
	req, err := http.NewRequestWithContext(ctx, raw.Method, raw.Path, bytes.NewReader(raw.Body))
	if err != nil {
		return ingest.Decoded{}, fmt.Errorf("the captured request does not parse: %w", err)
	}
	decode, values, ok := rp.Decoders.Match(raw.Method, req.URL.EscapedPath())
	if !ok {
		return ingest.Decoded{}, fmt.Errorf("no ingest route takes %s %s any more", raw.Method, req.URL.Path)
	}
	for name, v := range values {
		req.SetPathValue(name, v)
	}
	for k, vs := range raw.Headers() {
		if k == "Host" {
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	req.RemoteAddr = raw.RemoteAddr
	dec, err := decode(req, raw.Body, src)
	if err != nil {
		return ingest.Decoded{}, fmt.Errorf("the request no longer decodes: %s", cdp.ErrorMessage(err))
	}
	return dec, nil
}

// selection is a replay's time range and filter.
type selection struct {
	since, until time.Time
	filter       *expr.Program
}

func newSelection(r ReplayRequest) (*selection, error) {
	sel := &selection{}
	var err error
	if sel.since, err = optionalTime("since", r.Since); err != nil {
		return nil, err
	}
	if sel.until, err = optionalTime("until", r.Until); err != nil {
		return nil, err
	}
	if r.Filter != "" {
		if sel.filter, err = tailEnv.Compile(r.Filter, expr.Bool); err != nil {
			return nil, cdp.Errorf(cdp.EINVALID, "filter: %v", err)
		}
	}
	return sel, nil
}

// keep returns the events of page the selection takes: received before
// until, matching the filter, and not replays themselves (their request
// is the original's).
func (sel *selection) keep(ctx context.Context, page []*cdp.Event) []*cdp.Event {
	var out []*cdp.Event
	for _, e := range page {
		if e.ReplayOf != "" || (!sel.until.IsZero() && !e.ReceivedAt.Before(sel.until)) {
			continue
		}
		if sel.filter != nil && !matches(ctx, sel.filter, e) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Replays serves POST /admin/v1/replays.
func Replays(log *slog.Logger, rp *Replayer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req ReplayRequest
		body, err := httpx.ReadBody(w, r, maxBody)
		if err == nil {
			if err = json.Unmarshal(body, &req); err != nil {
				err = cdp.Errorf(cdp.EINVALID, "the body must be {source, since, until, filter, dry_run, force, rerun_workflows, from_archive, limit, cursor}: %v", err)
			}
		}
		var sum *ReplaySummary
		if err == nil {
			sum, err = rp.Replay(r.Context(), req)
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, sum)
	})
}

// ReplayEvent serves POST /admin/v1/events/{id}/replay[?force=true][&rerun_workflows=true].
func ReplayEvent(log *slog.Logger, rp *Replayer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		sum, err := rp.ReplayEvent(r.Context(), r.PathValue("id"), q.Get("force") == "true", q.Get("rerun_workflows") == "true")
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, sum)
	})
}
