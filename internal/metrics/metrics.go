// Package metrics holds Switchyard's Prometheus collectors, created once in
// run and handed to the components that update them.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Ingest outcomes.
const (
	OutcomeAccepted  = "accepted"  // in the event log
	OutcomeDuplicate = "duplicate" // dropped by the event log's dedup window
	OutcomeRejected  = "rejected"  // refused with a 4xx
	OutcomeFailed    = "failed"    // could not be appended (5xx)
)

// Metrics are the collectors. Create them with New.
type Metrics struct {
	Ingested       *prometheus.CounterVec // events by source and outcome
	PublishLatency prometheus.Histogram   // seconds from append to log ack
	DedupHits      *prometheus.CounterVec // duplicates dropped, by layer (log, store)
	StoreBatch     prometheus.Histogram   // Updates sharing one store commit
	ProcessorBatch prometheus.Histogram   // event-log messages handled in one batch
	ProcessorLag   prometheus.Gauge       // messages not yet processed
	Processed      *prometheus.CounterVec // events by outcome (stored, duplicate, ephemeral, poison)
	HTTPRequests   *prometheus.CounterVec // by route and status code
}

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_ingested_events_total",
			Help: "Events received by the ingest APIs, by source and outcome (accepted, duplicate, rejected, failed).",
		}, []string{"source", "outcome"}),
		PublishLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_publish_ack_seconds",
			Help:    "Time from appending a request's events to the event log until the log acknowledged them.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		DedupHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_dedup_hits_total",
			Help: "Duplicates dropped, by layer: log (Nats-Msg-Id window) or store (unique source and message id).",
		}, []string{"layer"}),
		StoreBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_store_batch_size",
			Help:    "Write transactions that shared one store commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		ProcessorBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_processor_batch_size",
			Help:    "Event-log messages the processor handled in one store transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		ProcessorLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_processor_lag_messages",
			Help: "Event-log messages accepted but not yet processed.",
		}),
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_processed_events_total",
			Help: "Events handled by the processor, by outcome (stored, duplicate, ephemeral, poison).",
		}, []string{"outcome"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
	}
	reg.MustRegister(m.Ingested, m.PublishLatency, m.DedupHits, m.StoreBatch, m.ProcessorBatch, m.ProcessorLag, m.Processed, m.HTTPRequests)
	return m
}
