package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/tail"
)

// heartbeat keeps idle tail streams open through proxies.
const heartbeat = 15 * time.Second

// tailEnv declares what a tail filter sees: the event as the management
// API renders it (event.type, event.properties.recipient, …), and its
// violations (an empty list when it broke no tracking plan), so that
// `violations.size() > 0` or `violations.exists(v, v.plan == 'orders')`
// follow the events a plan flags.
var tailEnv = expr.MustEnv(expr.Var{Name: "event", Type: expr.Object}, expr.Var{Name: "violations", Type: expr.Objects})

// Resumption: a client that reconnects with Last-Event-ID is sent the
// stored events from a little before that event on (resumeMargin, since
// events are stored in about, not exactly, the order of their ids), then
// the live ones; it drops by id what it had already. Up to resumeMax
// events are sent again; a client further behind is told of the gap.
const (
	resumeMargin = 5 * time.Second
	resumeMax    = 10000
)

// Tail serves GET /admin/v1/tail as Server-Sent Events: an "id:" and a
// "data:" line of JSON per stored event, filtered by source, type and a
// CEL expression (filter=, over event). The filter runs in the
// subscriber's goroutine, within the node's filter budget shared by every
// tail (tail.Limits), so neither a costly filter nor many tails slow
// ingest: a tail that cannot keep up is sent an "error" event and
// disconnected, and beyond the node's cap a new tail is refused with 503.
// A Last-Event-ID header resumes the stream (see resumeMargin).
func Tail(log *slog.Logger, hub *tail.Hub, store cdp.EventReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var filter *expr.Program
		if src := q.Get("filter"); src != "" {
			var err error
			if filter, err = tailEnv.Compile(src, expr.Bool); err != nil {
				httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "filter: %v", err))
				return
			}
		}
		sub, err := hub.Subscribe(tail.Filter{SourceID: q.Get("source"), Type: q.Get("type")}, 1024)
		if err != nil {
			w.Header().Set("Retry-After", "30")
			httpx.Error(w, r, log, cdp.Errorf(cdp.EUNAVAILABLE, "%v (tail.max_subscribers); try again later", err))
			return
		}
		defer sub.Close()
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{}) // a tail lives as long as the client wants
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ": switchyard tail\n\n")
		// Subscribed first, then the stored events: what is stored
		// meanwhile comes live, and is sent once (by id).
		match := metered(sub, filter)
		sent := resume(r.Context(), w, store, r.Header.Get("Last-Event-ID"), filterOf(q), match)
		if err := rc.Flush(); err != nil {
			return
		}
		ping := time.NewTicker(heartbeat)
		defer ping.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-ping.C:
				fmt.Fprint(w, ": ping\n\n")
			case e, ok := <-sub.C:
				if !ok {
					if sub.Dropped() {
						fmt.Fprint(w, "event: error\ndata: {\"error\":{\"code\":\"too_slow\",\"message\":\"the client fell behind and was disconnected\"}}\n\n")
						_ = rc.Flush()
					}
					return
				}
				if _, dup := sent[e.ID]; dup {
					delete(sent, e.ID)
					continue
				}
				if !match(r.Context(), e) {
					continue
				}
				data, err := json.Marshal(e)
				if err != nil {
					continue
				}
				fmt.Fprintf(w, "id: %s\ndata: %s\n\n", e.ID, data)
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	})
}

func filterOf(q url.Values) cdp.EventFilter {
	return cdp.EventFilter{SourceID: q.Get("source"), Type: q.Get("type")}
}

// match decides whether an event passes a tail's filter.
type match func(ctx context.Context, e *cdp.Event) bool

// metered is the filter evaluated within the hub's filter budget (see
// Subscription.Eval); an evaluation that could not have its turn before
// the client left does not match.
func metered(sub *tail.Subscription, filter *expr.Program) match {
	return func(ctx context.Context, e *cdp.Event) bool {
		if filter == nil {
			return true
		}
		ok := false
		_ = sub.Eval(ctx, func() { ok = matches(ctx, filter, e) })
		return ok
	}
}

// resume writes the stored events matching f from resumeMargin before
// the event last (the client's Last-Event-ID) on, oldest first, except
// last itself, and returns their ids.
func resume(ctx context.Context, w io.Writer, store cdp.EventReader, last string, f cdp.EventFilter, filter match) map[string]struct{} {
	sent := map[string]struct{}{}
	if last == "" || store == nil {
		return sent
	}
	at, ok := cdp.IDTime(last)
	if !ok {
		e, err := store.FindEventByID(ctx, last)
		if err != nil {
			return sent
		}
		at = e.ReceivedAt
	}
	f.Since, f.Limit = at.Add(-resumeMargin), 1000
	var events []*cdp.Event
	for {
		page, next, err := store.FindEvents(ctx, f)
		if err != nil {
			return sent
		}
		events = append(events, page...)
		if next == "" {
			break
		}
		if len(events) >= resumeMax {
			fmt.Fprintf(w, "event: error\ndata: {\"error\":{\"code\":\"gap\",\"message\":\"more than %d events since Last-Event-ID: the newest are sent\"}}\n\n", resumeMax)
			break
		}
		f.Cursor = next
	}
	slices.Reverse(events) // oldest first
	for _, e := range events {
		if e.ID == last {
			continue
		}
		if !filter(ctx, e) {
			continue
		}
		data, err := json.Marshal(e)
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "id: %s\ndata: %s\n\n", e.ID, data)
		sent[e.ID] = struct{}{}
	}
	return sent
}

// matches applies the filter to an event's view; an expression that
// fails on an event (a missing field, say) does not match it.
func matches(ctx context.Context, filter *expr.Program, e *cdp.Event) bool {
	if filter == nil {
		return true
	}
	view := e.View()
	violations, _ := view["violations"].([]any)
	if violations == nil {
		violations = []any{}
	}
	ok, err := filter.EvalBool(ctx, map[string]any{"event": view, "violations": violations})
	return err == nil && ok
}
