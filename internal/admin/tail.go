package admin

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/switchyardhq/switchyard/internal/api/httpx"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/tail"
)

// heartbeat keeps idle tail streams open through proxies.
const heartbeat = 15 * time.Second

// Tail serves GET /admin/v1/tail as Server-Sent Events: one "data:" line of
// JSON per stored event, filtered by source and type. A client that cannot
// keep up is sent an "error" event and disconnected.
func Tail(log *slog.Logger, hub *tail.Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("filter") != "" {
			httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "filter expressions are not supported yet; use source and type"))
			return
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
				if err != nil {
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
