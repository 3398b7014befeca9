package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/archive"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/config"
	"github.com/switchyardhq/switchyard/internal/testenv"
)

// An archive configured with one-second windows writes every stored
// event (the orders, and the session events /track adds), soon after its
// second closed and the processor stored it, to the file of its source and
// hour; they read back as the management API shows them.
func TestArchiveThroughTheStack(t *testing.T) {
	dir := t.TempDir()
	s := newStack(t, func(c *config.Config) {
		c.Archive = &config.Archive{To: "file://" + dir, Format: "ndjson", Every: "1s", Grace: "0s"}
	})
	for range 3 {
		s.sendOrders(t, 20, "a")
		time.Sleep(300 * time.Millisecond)
	}
	sink, err := archive.Open("file://"+dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Await(t, "every stored event archived", 15*time.Second, func() (bool, string) {
		var got []*cdp.Event
		keys, _ := sink.List(t.Context(), "")
		for _, k := range keys {
			f, err := os.Open(dir + "/" + k)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := f.Stat()
			if err := archive.ReadFile(archive.NDJSON, f, st.Size(), func(e *cdp.Event) error {
				got = append(got, e)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		stored, _, err := s.store.FindEvents(t.Context(), cdp.EventFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		orders := 0
		for _, e := range stored {
			if e.Type == "order" {
				orders++
			}
		}
		slices.SortFunc(stored, func(a, b *cdp.Event) int { return strings.Compare(a.ID, b.ID) })
		slices.SortFunc(got, func(a, b *cdp.Event) int { return strings.Compare(a.ID, b.ID) })
		w, _ := json.Marshal(stored)
		g, _ := json.Marshal(got)
		return orders == 60 && string(w) == string(g), fmt.Sprintf("%d archived, %d stored (%d orders) in %s", len(got), len(stored), orders, strings.Join(keys, " "))
	})
}
