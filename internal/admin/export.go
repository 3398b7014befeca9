package admin

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
)

// maxScan caps one page of ScanEvents.
const maxScan = 5000

// ExportPage is a page of GET /admin/v1/export/events.
type ExportPage struct {
	Events []*cdp.Event `json:"events"`
	// Next is the after of the next page; "" when this was the last.
	Next string `json:"next"`
	// Total, on the first page, is how many events were received in the
	// range (from the per-minute counts): for a progress bar.
	Total int `json:"total,omitempty"`
}

// ExportEvents serves GET /admin/v1/export/events?from=&to=&after=&limit=:
// the stored events received in [from, to), in id order, a page at a
// time, as the archive reads them (switchyard export).
func ExportEvents(log *slog.Logger, store cdp.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		from, err := ParseTime("from", q.Get("from"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		to, err := optionalTime("to", q.Get("to"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		if to.IsZero() {
			to = time.Now()
		}
		if !to.After(from) {
			httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "to must be after from"))
			return
		}
		limit := 1000
		if s := q.Get("limit"); s != "" {
			if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > maxScan {
				httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "limit must be an integer from 1 to %d, not %q", maxScan, s))
				return
			}
		}
		after := q.Get("after")
		if after != "" {
			if _, ok := cdp.IDTime(after); !ok {
				httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "after must be an event id, not %q", after))
				return
			}
		}
		events, err := store.ScanEvents(r.Context(), from, to, after, limit)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		page := ExportPage{Events: events}
		if events == nil {
			page.Events = []*cdp.Event{}
		}
		if len(events) == limit {
			page.Next = events[len(events)-1].ID
		}
		if after == "" {
			counts, err := store.EventsPerMinute(r.Context(), from.Truncate(time.Minute))
			if err != nil {
				httpx.Error(w, r, log, err)
				return
			}
			for _, c := range counts {
				if c.Minute.Before(to) {
					page.Total += c.Events
				}
			}
		}
		httpx.WriteJSON(w, http.StatusOK, page)
	})
}
