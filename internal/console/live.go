package console

import (
	"net/http"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

type livePage struct {
	Sources              []*cdp.Source
	Source, Type, Filter string
}

// Live serves GET /console/live: the page; its script follows
// /admin/v1/tail (Server-Sent Events) with the chosen filters.
func (c *Console) Live() http.Handler {
	return c.page("live", "Live", func(r *http.Request) (any, error) {
		q := r.URL.Query()
		return &livePage{Sources: c.d.Sources.List(), Source: q.Get("source"), Type: q.Get("type"), Filter: q.Get("filter")}, nil
	})
}
