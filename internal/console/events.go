package console

import (
	"net/http"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

type eventList struct {
	Events                       []*cdp.Event
	Next                         string
	Source, Type, Profile, Since string
	Sources                      []*cdp.Source
}

// Events serves GET /console/events: search by source, type, profile and
// time, newest first, 50 a page.
func (c *Console) Events() http.Handler {
	return c.page("events", "Events", func(r *http.Request) (any, error) {
		q := r.URL.Query()
		l := &eventList{Source: q.Get("source"), Type: q.Get("type"), Profile: q.Get("profile"), Since: q.Get("since"),
			Sources: c.d.Sources.List()}
		f := cdp.EventFilter{SourceID: l.Source, Type: l.Type, ProfileID: l.Profile, Limit: 50, Cursor: q.Get("cursor")}
		if l.Since != "" {
			t, err := parseLocal(l.Since)
			if err != nil {
				return nil, err
			}
			f.Since = t
		}
		var err error
		l.Events, l.Next, err = c.d.Store.FindEvents(r.Context(), f)
		return l, err
	})
}

// parseLocal reads a datetime-local input (no zone: taken as UTC, the
// page says so) or an RFC 3339 time.
func parseLocal(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, cdp.Errorf(cdp.EINVALID, "since must be a time like 2026-11-23T10:00, not %q", s)
}

type eventPage struct {
	Event *cdp.Event
	Raw   *cdp.RawRequest
	Runs  []*cdp.Run
}

// Event serves GET /console/events/{id}: properties, context, identity,
// the raw request and the runs the event started.
func (c *Console) Event() http.Handler {
	return c.page("event", "Event", func(r *http.Request) (any, error) {
		e, err := c.d.Store.FindEventByID(r.Context(), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		p := &eventPage{Event: e}
		if e.RequestID != "" {
			if raw, err := c.d.Store.FindRawRequest(r.Context(), e.RequestID); err == nil {
				p.Raw = raw
			}
		}
		p.Runs, _, err = c.d.Store.FindRuns(r.Context(), cdp.RunFilter{EventID: e.ID})
		return p, err
	})
}
