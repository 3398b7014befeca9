package console

import (
	"net/http"

	"github.com/switchyardhq/switchyard/internal/admin"
	"github.com/switchyardhq/switchyard/internal/quality"
)

// catalogPage is the event catalog's page: the tracking plans in force,
// and what each source sent, type by type.
type catalogPage struct {
	Source  string
	Sources []string
	Plans   []quality.Plan
	Types   []admin.CatalogEntry
}

// Catalog serves GET /console/catalog?source=: every event type each
// source sent, with its volume, its properties by JSON type, how many
// broke a plan and what the plans declare.
func (c *Console) Catalog() http.Handler {
	return c.page("catalog", "Catalog", func(r *http.Request) (any, error) {
		p := &catalogPage{Source: r.URL.Query().Get("source"), Plans: c.d.Catalog.Plans().All()}
		for _, s := range c.d.Sources.List() {
			p.Sources = append(p.Sources, s.ID)
		}
		var err error
		p.Types, err = c.d.Catalog.List(r.Context(), p.Source, "")
		return p, err
	})
}
