package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/quality"
)

// TrialRequest asks how a transform would reshape a source's latest
// captured requests.
type TrialRequest struct {
	// Transform is the expression to try; empty tries the source's own.
	Transform string `json:"transform"`
	// Limit is how many of the latest requests to try (default 10, at
	// most 50).
	Limit int `json:"limit"`
}

// Trial is one captured request decoded again with the source's current
// configuration, each of its events before and after the transform and
// the tracking plans. Nothing is stored.
type Trial struct {
	RequestID  string       `json:"request_id"`
	ReceivedAt string       `json:"received_at"`
	Events     []TrialEvent `json:"events"`
	// Error says why the request could not be tried (its capture is
	// gone, or it no longer decodes).
	Error string `json:"error,omitempty"`
}

// TrialEvent is one event of a trial: as the API decoded it, and as the
// transform and the plans left it (After is absent when it is dropped).
type TrialEvent struct {
	Before TrialShape  `json:"before"`
	After  *TrialShape `json:"after,omitempty"`
	// Outcome is stored, flagged, dropped (by the transform or a plan) or
	// blocked (the request would be refused).
	Outcome    string          `json:"outcome"`
	Violations []cdp.Violation `json:"violations,omitempty"`
}

// TrialShape is what a transform may change of an event.
type TrialShape struct {
	Type       string          `json:"type"`
	Properties json.RawMessage `json:"properties"`
}

// maxTrials caps the requests one trial decodes.
const maxTrials = 50

// TryTransform decodes the latest captured requests of source again and
// shows what the transform (and the plans in force) would make of them.
func (rp *Replayer) TryTransform(ctx context.Context, source string, r TrialRequest) ([]Trial, error) {
	src, ok := rp.Sources.Get(source)
	if !ok {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "source %q not found", source)
	}
	expr := r.Transform
	if expr == "" {
		expr = src.Transform
	}
	var t *quality.Transform
	if expr != "" {
		var err error
		if t, err = quality.CompileTransform(expr); err != nil {
			return nil, cdp.Errorf(cdp.EINVALID, "transform: %v", err)
		}
	}
	limit := r.Limit
	if limit <= 0 {
		limit = 10
	}
	limit = min(limit, maxTrials)
	ids, err := rp.latestRequests(ctx, source, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Trial, 0, len(ids))
	for _, id := range ids {
		out = append(out, rp.try(ctx, src, id, t))
	}
	return out, nil
}

// latestRequests are the ids of the latest captured requests that made
// events of source, newest first (replays are not their own requests).
func (rp *Replayer) latestRequests(ctx context.Context, source string, limit int) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; pages < 10 && len(ids) < limit; pages++ {
		page, next, err := rp.Store.FindEvents(ctx, cdp.EventFilter{SourceID: source, Limit: 200, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			if e.RequestID != "" && e.ReplayOf == "" && !seen[e.RequestID] && len(ids) < limit {
				seen[e.RequestID] = true
				ids = append(ids, e.RequestID)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return ids, nil
}

// try decodes one captured request and screens each of its events.
func (rp *Replayer) try(ctx context.Context, src *cdp.Source, requestID string, t *quality.Transform) Trial {
	trial := Trial{RequestID: requestID, Events: []TrialEvent{}}
	raw, err := rp.Store.FindRawRequest(ctx, requestID)
	if err != nil {
		trial.Error = "its captured request is gone: " + cdp.ErrorMessage(err)
		return trial
	}
	trial.ReceivedAt = raw.ReceivedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	dec, err := rp.decode(ctx, raw, src)
	if err != nil {
		trial.Error = err.Error()
		return trial
	}
	events := dec.Events
	if dec.Track != nil {
		events = dec.Track.Events
	}
	plans := rp.Ingest.Plans()
	for _, e := range events {
		e.SourceID = src.ID
		te := TrialEvent{Before: TrialShape{Type: e.Type, Properties: orEmpty(e.Properties)}}
		keep, mode := quality.Screen(ctx, t, plans, e)
		te.Violations, te.Outcome = e.Violations, quality.Outcome(e, keep, mode)
		if keep || mode != "" { // a plan judged it: the transform kept it
			te.After = &TrialShape{Type: e.Type, Properties: orEmpty(e.Properties)}
		}
		trial.Events = append(trial.Events, te)
	}
	return trial
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(`{}`)
	}
	return raw
}

// TryTransform serves POST /admin/v1/sources/{id}/transform/trial.
func TryTransform(log *slog.Logger, rp *Replayer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req TrialRequest
		body, err := httpx.ReadBody(w, r, maxBody)
		if err == nil && len(body) > 0 {
			if err = json.Unmarshal(body, &req); err != nil {
				err = cdp.Errorf(cdp.EINVALID, "the body must be {transform, limit}: %v", err)
			}
		}
		var trials []Trial
		if err == nil {
			trials, err = rp.TryTransform(r.Context(), r.PathValue("id"), req)
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"trials": trials})
	})
}
