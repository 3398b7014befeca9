package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/testenv"
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
	testenv.Await(t, "20 events counted as accepted", 10*time.Second, func() (bool, string) {
		accepted := value(m.Ingested.WithLabelValues("web", metrics.OutcomeAccepted))
		if failed := value(m.Ingested.WithLabelValues("web", metrics.OutcomeFailed)); failed != 0 {
			t.Fatalf("%v events counted as failed; they were appended", failed)
		}
		return accepted == 20, fmt.Sprintf("%v accepted", accepted)
	})
}

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
