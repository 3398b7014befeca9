package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/switchyardhq/switchyard/internal/api/httpx"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/expr"
	"github.com/switchyardhq/switchyard/internal/tail"
)

// heartbeat keeps idle tail streams open through proxies.
const heartbeat = 15 * time.Second

// tailEnv declares what a tail filter sees: the event as the management
// API renders it (event.type, event.properties.recipient, …).
var tailEnv = expr.MustEnv(expr.Var{Name: "event", Type: expr.Object})

// Tail serves GET /admin/v1/tail as Server-Sent Events: one "data:" line of
// JSON per stored event, filtered by source, type and a CEL expression
// (filter=, over event). The filter runs in the subscriber's goroutine, so
// a costly one slows only its own stream; a client that cannot keep up is
// sent an "error" event and disconnected, and ingest is never slowed.
func Tail(log *slog.Logger, hub *tail.Hub) http.Handler {
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
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{}) // a tail lives as long as the client wants
		sub := hub.Subscribe(tail.Filter{SourceID: q.Get("source"), Type: q.Get("type")}, 1024)
		defer sub.Close()
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ": switchyard tail\n\n")
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
				data, err := json.Marshal(e)
				if err != nil || !matches(r.Context(), filter, data) {
					continue
				}
				fmt.Fprintf(w, "data: %s\n\n", data)
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	})
}

// matches applies the filter to an event's JSON; an expression that fails
// on an event (a missing field, say) does not match it.
func matches(ctx context.Context, filter *expr.Program, data []byte) bool {
	if filter == nil {
		return true
	}
	var event map[string]any
	if json.Unmarshal(data, &event) != nil {
		return false
	}
	ok, err := filter.EvalBool(ctx, map[string]any{"event": event})
	return err == nil && ok
}
