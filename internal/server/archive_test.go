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
	"github.com/switchyardhq/switchyard/internal/workflow"
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

// A backfill with from_archive runs a workflow over archived events the
// store does not have (here a second node with an empty store and the
// same archive): each run carries its event, and the destination
// receives every order once. Without from_archive there is nothing to
// run; a server without an archive refuses it.
func TestBackfillFromArchive(t *testing.T) {
	dir := t.TempDir()
	arch := &config.Archive{To: "file://" + dir, Format: "parquet", Every: "1s", Grace: "0s"}
	first := newStack(t, func(c *config.Config) { c.Archive = arch })
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	first.sendOrders(t, 30, "old")
	sink, _ := archive.Open("file://"+dir, nil)
	testenv.Eventually(t, "the orders archived", 15*time.Second, func() bool {
		n := 0
		keys, _ := sink.List(t.Context(), "")
		for _, k := range keys {
			f, _ := os.Open(dir + "/" + k)
			st, _ := f.Stat()
			_ = archive.ReadFile(archive.Parquet, f, st.Size(), func(e *cdp.Event) error {
				if e.Type == "order" {
					n++
				}
				return nil
			})
			f.Close()
		}
		return n == 30
	})

	in := newBatchReceiver(t)
	second := newStack(t, func(c *config.Config) {
		c.Archive = arch
		c.Destinations = []config.Destination{{ID: "app", Kind: "webhook", URL: in.url, AllowPrivateNetwork: true}}
		c.Workflows = []workflow.Workflow{{ID: "late", Trigger: workflow.Trigger{Source: "web", Types: []string{"order"}},
			Steps: []workflow.Step{{ID: "send", Action: "webhook.send", Destination: "app", With: map[string]any{"body": "event.properties"}}}}}
	})
	path := "/admin/v1/workflows/late/backfills"
	r := second.do(t, "POST", path, "application/json", `{"since":"`+since+`","dry_run":true}`)
	wantStatus(t, r, 200)
	if r.json(t)["selected"] != 0.0 {
		t.Fatalf("the empty store selected %v", r.json(t))
	}
	r = second.do(t, "POST", path, "application/json", `{"since":"`+since+`","dry_run":true,"from_archive":true}`)
	wantStatus(t, r, 200)
	if r.json(t)["selected"] != 30.0 {
		t.Fatalf("from the archive: %s", r.body)
	}
	wantStatus(t, second.do(t, "POST", path, "application/json", `{"since":"`+since+`","from_archive":true}`), 201)
	runs := second.waitRuns(t, cdp.RunFilter{Status: cdp.RunSucceeded, Limit: 100}, 30)
	seen := map[string]int{}
	for _, req := range in.requests() {
		var body map[string]any
		_ = json.Unmarshal(req.body, &body)
		seen[fmt.Sprint(body["n"])]++
	}
	if len(seen) != 30 {
		t.Fatalf("the destination received %d distinct orders: %v", len(seen), seen)
	}
	for n, c := range seen {
		if c != 1 || !strings.HasPrefix(n, "old-") {
			t.Fatalf("order %s received %d times", n, c)
		}
	}
	if runs[0].Event == nil || runs[0].BackfillID == "" {
		t.Fatalf("a run from the archive: %+v", runs[0])
	}
	noArchive := newStack(t, func(c *config.Config) {
		c.Workflows = []workflow.Workflow{{ID: "late", Trigger: workflow.Trigger{Source: "web", Types: []string{"order"}},
			Steps: []workflow.Step{{ID: "stop", Stop: true}}}}
	})
	wantStatus(t, noArchive.do(t, "POST", path, "application/json", `{"since":"`+since+`","from_archive":true}`), 400)
}

// With archive.requests, the captured requests are archived beside their
// events, and a replay reads them back: from_archive replays the requests
// of archived events on a node whose store has none of them (here a
// second node with an empty store, the source's event_type fixed), each
// new event linked to its archived original; and a replay of stored
// events whose captures retention removed finds them in the archive.
func TestReplayFromArchive(t *testing.T) {
	dir := t.TempDir()
	arch := &config.Archive{To: "file://" + dir, Format: "parquet", Every: "1s", Grace: "0s", Requests: true}
	pay := func(eventType string) func(c *config.Config) {
		return func(c *config.Config) {
			c.Archive = arch
			c.Sources = append(c.Sources, config.Source{ID: "pay", Kind: cdp.SourceWebhook,
				Verify: &cdp.WebhookVerify{Scheme: "standard_webhooks", Secret: replaySecret}, EventType: eventType})
		}
	}
	first := newStack(t, pay("body.type"))
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	for i, kind := range []string{"paid", "refunded", "paid"} {
		wantStatus(t, first.postStandard(t, "pay", fmt.Sprintf("msg_%d", i), fmt.Sprintf(`{"type":"invoice","kind":%q,"n":%d}`, kind, i)), 200)
	}
	originals := first.events(t, "source=pay", 3)
	sink, _ := archive.Open("file://"+dir, nil)
	testenv.Await(t, "the requests archived", 15*time.Second, func() (bool, string) {
		keys, _ := sink.List(t.Context(), "requests/source=pay/")
		n := 0
		for _, k := range keys {
			f, _ := os.Open(dir + "/" + k)
			st, _ := f.Stat()
			_ = archive.ReadRequestFile(archive.Parquet, f, st.Size(), func(r archive.RequestRow) error {
				if strings.Contains(r.Header, "Webhook-Signature") || strings.Contains(r.Header, "webhook-signature") {
					n++
				}
				return nil
			})
			f.Close()
		}
		return n == 3, fmt.Sprintf("%d of 3 signed requests in %v", n, keys)
	})

	second := newStack(t, pay("'invoice.' + body.kind"))
	if dry := second.replay(t, `{"source":"pay","since":"`+since+`","dry_run":true}`); dry.Selected != 0 {
		t.Fatalf("the empty store selected %+v", dry)
	}
	dry := second.replay(t, `{"source":"pay","since":"`+since+`","dry_run":true,"from_archive":true}`)
	if dry.Selected != 3 || dry.Requests != 3 || len(dry.Missing) != 0 || dry.Replayed != 0 {
		t.Fatalf("dry run from the archive: %+v", dry)
	}
	sum := second.replay(t, `{"source":"pay","since":"`+since+`","from_archive":true,"limit":2}`)
	total := sum.Replayed
	for sum.NextCursor != "" {
		sum = second.replay(t, `{"source":"pay","since":"`+since+`","from_archive":true,"limit":2,"cursor":"`+sum.NextCursor+`"}`)
		total += sum.Replayed
	}
	if total != 3 {
		t.Fatalf("replayed %d requests from the archive, want 3", total)
	}
	replayed := second.events(t, "source=pay", 3)
	types := map[string]int{}
	for _, e := range replayed {
		types[e["type"].(string)]++
		if !slices.ContainsFunc(originals, func(o map[string]any) bool { return o["id"] == e["replay_of"] }) {
			t.Fatalf("%v replays %v, not an archived original", e["id"], e["replay_of"])
		}
	}
	if types["invoice.paid"] != 2 || types["invoice.refunded"] != 1 {
		t.Fatalf("replayed types %v", types)
	}

	// On the first node the captures are gone (as retention does): a
	// replay of its stored events reads them from the archive.
	if err := first.store.Update(t.Context(), func(tx cdp.Tx) error {
		_, err := tx.DeleteRawRequestsBefore(t.Context(), time.Now().Add(time.Hour), 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.store.FindRawRequest(t.Context(), originals[0]["request_id"].(string)); cdp.ErrorCode(err) != cdp.ENOTFOUND {
		t.Fatalf("the capture is still in the store: %v", err)
	}
	again := first.replay(t, `{"source":"pay","since":"`+since+`"}`)
	if again.Replayed != 3 || len(again.Missing) != 0 {
		t.Fatalf("replay of stored events whose captures are archived: %+v", again)
	}
	noArchive := newStack(t, func(c *config.Config) {})
	wantStatus(t, noArchive.do(t, "POST", "/admin/v1/replays", "application/json", `{"source":"web","from_archive":true}`), 400)
}
