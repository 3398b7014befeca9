package customerio

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/envelope"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/ingest"
	symetrics "github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/processor"
	"github.com/switchyardhq/switchyard/internal/store/sqlite"
)

// The Track API's handlers over their real ports (SQLite, the embedded
// event log): Basic site_id:api_key authentication, a tracked event
// appended to the event log, and errors in Customer.io's dialect.
func TestTrackHandlers(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	store, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "s.db"), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	log, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	sources := ingest.NewSources(store, []*cdp.Source{{ID: "cio", Kind: cdp.SourceCustomerIOTrack, Enabled: true, SiteID: "site", APIKey: "key"}}, nil)
	if err := sources.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	in := ingest.New(log, identity.New(store, nil), sources, symetrics.New(prometheus.NewRegistry()), ingest.Refusals{})
	defer in.Close()
	api := New(quiet, in, sources, 1<<20)
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/customers/{identifier}/events", api.Serve(api.Track))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(auth, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/customers/42/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := post("site:key", `{"name":"purchase","data":{"total":3}}`); code != 200 || body != "{}" {
		t.Fatalf("track: %d %s", code, body)
	}
	// The event is in the event log, as the processor will read it.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	var got []*cdp.Batch
	_ = log.Consume(ctx, processor.Group, func(_ context.Context, batch []cdp.Delivery) {
		for _, d := range batch {
			env, err := envelope.Decode(d.Data())
			if err != nil {
				t.Errorf("decode: %v", err)
			}
			got = append(got, env...)
			_ = d.Ack()
		}
		cancel()
	})
	if len(got) != 1 || len(got[0].Events) != 1 || got[0].Events[0].Type != "purchase" || got[0].SourceID != "cio" {
		t.Fatalf("event log holds %+v", got)
	}
	for _, c := range []struct {
		auth, body string
		code       int
		msg        string
	}{
		{"site:wrong", `{"name":"x"}`, 401, "Unauthorized request"},
		{"", `{"name":"x"}`, 401, "Unauthorized request"},
		{"site:key", `{"data":{}}`, 400, `"meta":{"error":`},
		{"site:key", `{"name":`, 400, `"meta":{"error":`},
	} {
		if code, body := post(c.auth, c.body); code != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("%s %s: %d %s, want %d with %q", c.auth, c.body, code, body, c.code, c.msg)
		}
	}
}
