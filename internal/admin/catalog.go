package admin

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/quality"
)

// Catalog serves the event catalog: what each source sends, beside what
// its tracking plans declare.
type Catalog struct {
	Store cdp.CatalogStore
	Plans func() *quality.Plans
}

// CatalogEntry is one event type of one source as the catalog shows it.
type CatalogEntry struct {
	*cdp.CatalogType
	// ViolationRate is the share of its stored events that broke a plan.
	ViolationRate float64 `json:"violation_rate"`
	// Declared are the plans that list the type, with their schemas.
	Declared []quality.Declared `json:"declared"`
}

// List returns the catalog's entries (source, typ "": all).
func (c *Catalog) List(ctx context.Context, source, typ string) ([]CatalogEntry, error) {
	types, err := c.Store.FindCatalog(ctx, source, typ)
	if err != nil {
		return nil, err
	}
	plans := c.Plans()
	out := make([]CatalogEntry, len(types))
	for i, t := range types {
		out[i] = CatalogEntry{CatalogType: t, Declared: plans.Declared(t.SourceID, t.Type)}
		if out[i].Declared == nil {
			out[i].Declared = []quality.Declared{}
		}
		if t.Events > 0 {
			out[i].ViolationRate = float64(t.Violating) / float64(t.Events)
		}
	}
	return out, nil
}

// ListCatalog serves GET /admin/v1/catalog?source=&type=.
func ListCatalog(log *slog.Logger, c *Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		entries, err := c.List(r.Context(), q.Get("source"), q.Get("type"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"types": entries})
	})
}

// InferSchema serves GET /admin/v1/catalog/schema?source=S&type=T: a
// starting JSON Schema for the type's properties, from what was observed.
func InferSchema(log *slog.Logger, c *Catalog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		source, typ := q.Get("source"), q.Get("type")
		if source == "" || typ == "" {
			httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "source and type are required"))
			return
		}
		types, err := c.Store.FindCatalog(r.Context(), source, typ)
		if err == nil && len(types) == 0 {
			err = cdp.Errorf(cdp.ENOTFOUND, "the catalog has seen no %q events from source %q", typ, source)
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, quality.Infer(types[0]))
	})
}
