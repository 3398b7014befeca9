package console

import (
	"net/http"

	"github.com/switchyardhq/switchyard/internal/admin"
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
			t, err := admin.ParseTime("since", l.Since)
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
