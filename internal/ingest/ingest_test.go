package ingest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/metrics"
)

// TestAbandonedRequestCounted: the events of a request whose client gave
// up (its context ended) are still appended with their envelope, and are
// counted as what they became (accepted), not as failed.
func TestAbandonedRequestCounted(t *testing.T) {
	log, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	m := metrics.New(prometheus.NewRegistry())
	s := New(log, nil, nil, m, Refusals{})
	defer s.Close()
	for i := range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // the client is gone before the append is answered
		now := time.Now()
		_, _ = s.Publish(ctx, &cdp.Batch{ID: cdp.NewID(), SourceID: "web", ReceivedAt: now,
			Events: []*cdp.Event{{ID: cdp.NewID(), SourceID: "web", Type: "view", MessageID: string(rune('a' + i)), Timestamp: now, ReceivedAt: now}}})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		accepted := value(m.Ingested.WithLabelValues("web", metrics.OutcomeAccepted))
		failed := value(m.Ingested.WithLabelValues("web", metrics.OutcomeFailed))
		if failed != 0 {
			t.Fatalf("%v events counted as failed; they were appended", failed)
		}
		if accepted == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("accepted %v events, want 20", accepted)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
