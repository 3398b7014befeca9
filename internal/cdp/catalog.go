package cdp

import (
	"context"
	"time"
)

// CatalogType is what the event catalog knows of one event type of one
// source: how many events were stored, when, how many broke a tracking
// plan, and the properties they carried. The catalog is kept by adding
// counts as events are stored, never by scanning them.
type CatalogType struct {
	SourceID  string    `json:"source_id"`
	Type      string    `json:"type"`
	Events    int64     `json:"events"`
	Violating int64     `json:"violating"` // events stored with violations
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Properties are the property paths seen ("revenue", "address.city",
	// "items[].sku"), each with the events in which it had each JSON type.
	Properties []CatalogProperty `json:"properties"`
}

// CatalogProperty is one property path of an event type and, by JSON
// type (string, number, integer, boolean, object, array, null), the events
// in which it had that type.
type CatalogProperty struct {
	Path  string           `json:"path"`
	Types map[string]int64 `json:"types"`
}

// CatalogStore keeps the event catalog.
type CatalogStore interface {
	// AddCatalog adds each entry's counts to the catalog's (creating the
	// entries it lacks), widening first and last seen.
	AddCatalog(ctx context.Context, entries []*CatalogType) error
	// FindCatalog returns the catalog's entries with their properties,
	// by source then type; source or typ "" does not filter.
	FindCatalog(ctx context.Context, source, typ string) ([]*CatalogType, error)
	// CatalogTypes returns the types the catalog holds, by source.
	CatalogTypes(ctx context.Context) (map[string][]string, error)
}
