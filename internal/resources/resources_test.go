package resources_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/resources"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
)

// node is a Resources over store, recording what it puts in force.
func node(t *testing.T, store cdp.Store, applied *[]*config.Config) *resources.Resources {
	file, err := config.Parse([]byte("destinations: [{id: filed, kind: webhook, url: 'https://example.com/in'}]\n"), func(string) string { return "" }, builtin.Registry)
	if err != nil {
		t.Fatal(err)
	}
	r := &resources.Resources{Store: store, File: file, Actions: builtin.Registry, Log: slog.New(slog.DiscardHandler), Now: time.Now,
		Apply: func(c *config.Config) { *applied = append(*applied, c) }}
	if err := r.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	return r
}

// A change made on one node comes in force on another when it reloads
// the store (and only then, once: a reload that finds nothing new, even
// an empty store, applies nothing); the secret each answers is masked.
func TestAnotherNodeReloads(t *testing.T) {
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "sy.db"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var onA, onB []*config.Config
	a, b := node(t, store, &onA), node(t, store, &onB)
	if err := b.Load(t.Context()); err != nil || len(onB) != 1 { // nothing stored, nothing new
		t.Fatalf("an empty store reloaded: applied %d times, %v", len(onB), err)
	}
	it, err := a.Save(t.Context(), cdp.ResourceDestination, "", []byte(`{"id":"cio","kind":"customerio","site_id":"s","api_key":"k-secret"}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(it.Definition), "k-secret") || len(onA) != 2 || len(onA[1].Destinations) != 2 {
		t.Fatalf("saved %s; applied on a: %d", it.Definition, len(onA))
	}
	if len(onB) != 1 {
		t.Fatalf("b applied %d before reloading", len(onB))
	}
	if err := b.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(t.Context()); err != nil { // nothing new: not applied again
		t.Fatal(err)
	}
	if len(onB) != 2 || onB[1].Destinations[1].ID != "cio" || onB[1].Destinations[1].APIKey != "k-secret" {
		t.Fatalf("b applied %d sets: %+v", len(onB), onB[len(onB)-1].Destinations)
	}
	list, err := b.List(cdp.ResourceDestination)
	if err != nil || len(list) != 2 || list[0].Origin != "config" || list[1].Origin != "api" || strings.Contains(string(list[1].Definition), "k-secret") {
		t.Fatalf("b lists %+v, %v", list, err)
	}
}
