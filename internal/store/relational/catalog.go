package relational

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// CatalogTables hold the event catalog: one row per source and type, one
// per source, type, property path and JSON type. Counts are added by
// upserts, so nodes that store events side by side add to the same rows.
const CatalogTables = `CREATE TABLE IF NOT EXISTS catalog_types (
		source_id  text NOT NULL,
		type       text NOT NULL,
		events     bigint NOT NULL,
		violating  bigint NOT NULL,
		first_seen bigint NOT NULL,
		last_seen  bigint NOT NULL,
		PRIMARY KEY (source_id, type)
	);
	CREATE TABLE IF NOT EXISTS catalog_properties (
		source_id text NOT NULL,
		type      text NOT NULL,
		path      text NOT NULL,
		json_type text NOT NULL,
		events    bigint NOT NULL,
		PRIMARY KEY (source_id, type, path, json_type)
	);`

// catalogChunk is how many rows one upsert statement carries.
const catalogChunk = 200

// AddCatalog implements cdp.CatalogStore: one multi-row upsert per table
// and chunk, all in one transaction.
func (s Records) AddCatalog(ctx context.Context, entries []*cdp.CatalogType) error {
	var types, props [][]any
	for _, e := range entries {
		types = append(types, []any{e.SourceID, e.Type, e.Events, e.Violating, e.FirstSeen.UnixNano(), e.LastSeen.UnixNano()})
		for _, p := range e.Properties {
			for _, jt := range slices.Sorted(maps.Keys(p.Types)) {
				props = append(props, []any{e.SourceID, e.Type, p.Path, jt, p.Types[jt]})
			}
		}
	}
	return s.atomic(ctx, func(exec Exec) error {
		return addCatalog(ctx, exec, s.Mark, types, props)
	})
}

// addCatalog is AddCatalog's statements: a reader sees the properties of
// every event a type counts.
func addCatalog(ctx context.Context, exec Exec, mark func(int) string, types, props [][]any) error {
	if err := upsert(ctx, exec, mark, `INSERT INTO catalog_properties (source_id, type, path, json_type, events) VALUES `, props,
		` ON CONFLICT (source_id, type, path, json_type) DO UPDATE SET events = catalog_properties.events + excluded.events`); err != nil {
		return fmt.Errorf("add catalog properties: %w", err)
	}
	if err := upsert(ctx, exec, mark, `INSERT INTO catalog_types (source_id, type, events, violating, first_seen, last_seen) VALUES `, types,
		` ON CONFLICT (source_id, type) DO UPDATE SET events = catalog_types.events + excluded.events,
		violating = catalog_types.violating + excluded.violating,
		first_seen = CASE WHEN excluded.first_seen < catalog_types.first_seen THEN excluded.first_seen ELSE catalog_types.first_seen END,
		last_seen = CASE WHEN excluded.last_seen > catalog_types.last_seen THEN excluded.last_seen ELSE catalog_types.last_seen END`); err != nil {
		return fmt.Errorf("add catalog types: %w", err)
	}
	return nil
}

// upsert inserts rows in chunks: head, one (?, …) per row, tail.
func upsert(ctx context.Context, exec Exec, mark func(int) string, head string, rows [][]any, tail string) error {
	for len(rows) > 0 {
		n := min(len(rows), catalogChunk)
		var b strings.Builder
		b.WriteString(head)
		var args []any
		for i, row := range rows[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + strings.TrimSuffix(strings.Repeat("?, ", len(row)), ", ") + ")")
			args = append(args, row...)
		}
		b.WriteString(tail)
		if _, err := exec(ctx, render(b.String(), mark), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// FindCatalog implements cdp.CatalogStore.
func (s Records) FindCatalog(ctx context.Context, source, typ string) ([]*cdp.CatalogType, error) {
	var w Where
	if source != "" {
		w.Add("source_id = ?", source)
	}
	if typ != "" {
		w.Add("type = ?", typ)
	}
	where, _ := w.SQL(s.Mark)
	types, err := All(ctx, s.Query, "find catalog", func(r Rows) (*cdp.CatalogType, error) {
		var t cdp.CatalogType
		var first, last int64
		err := r.Scan(&t.SourceID, &t.Type, &t.Events, &t.Violating, &first, &last)
		t.FirstSeen, t.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		t.Properties = []cdp.CatalogProperty{}
		return &t, err
	}, `SELECT source_id, type, events, violating, first_seen, last_seen FROM catalog_types`+where+` ORDER BY source_id, type`, w.Args()...)
	if err != nil {
		return nil, err
	}
	byKey := map[[2]string]*cdp.CatalogType{}
	for _, t := range types {
		byKey[[2]string{t.SourceID, t.Type}] = t
	}
	type prop struct {
		source, typ, path, jt string
		n                     int64
	}
	props, err := All(ctx, s.Query, "find catalog properties", func(r Rows) (prop, error) {
		var p prop
		err := r.Scan(&p.source, &p.typ, &p.path, &p.jt, &p.n)
		return p, err
	}, `SELECT source_id, type, path, json_type, events FROM catalog_properties`+where+` ORDER BY source_id, type, path, json_type`, w.Args()...)
	if err != nil {
		return nil, err
	}
	for _, p := range props {
		t := byKey[[2]string{p.source, p.typ}]
		if t == nil {
			continue // a type added between the two reads: the next listing shows it
		}
		if n := len(t.Properties); n == 0 || t.Properties[n-1].Path != p.path {
			t.Properties = append(t.Properties, cdp.CatalogProperty{Path: p.path, Types: map[string]int64{}})
		}
		t.Properties[len(t.Properties)-1].Types[p.jt] = p.n
	}
	return types, nil
}

// CatalogTypes implements cdp.CatalogStore.
func (s Records) CatalogTypes(ctx context.Context) (map[string][]string, error) {
	pairs, err := All(ctx, s.Query, "list catalog types", func(r Rows) ([2]string, error) {
		var p [2]string
		err := r.Scan(&p[0], &p[1])
		return p, err
	}, `SELECT source_id, type FROM catalog_types ORDER BY source_id, type`)
	out := map[string][]string{}
	for _, p := range pairs {
		out[p[0]] = append(out[p[0]], p[1])
	}
	return out, err
}
