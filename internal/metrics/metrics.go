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
	OutcomeDropped   = "dropped"   // answered 2xx, not kept: by the source's transform or a tracking plan
)

// Webhook problems.
const (
	WebhookUnauthorized = "unauthorized" // refused: signature or timestamp
	WebhookUnreadable   = "unreadable"   // stored as a webhook_error event
	WebhookExpression   = "expression"   // event_type or dedup_key failed; stored with the error
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
	WebhookErrors  *prometheus.CounterVec // by source and problem
	Runs           *prometheus.CounterVec // finished workflow runs by workflow and outcome
	// RunsWaiting are the runs held at a wait_for, by workflow and step;
	// WaitsEnded counts the waits ended, by workflow and how (event,
	// timeout, exit).
	RunsWaiting *prometheus.GaugeVec
	WaitsEnded  *prometheus.CounterVec
	// ArchivedEvents and ArchivedRequests count the events and captured
	// requests this node wrote to the archive; ArchivedUntil is the end of
	// the last window it wrote (Unix seconds).
	ArchivedEvents   prometheus.Counter
	ArchivedRequests prometheus.Counter
	ArchivedUntil    prometheus.Gauge
	Attempts         *prometheus.CounterVec // action attempts by destination and outcome
	ActionLatency    prometheus.Histogram   // seconds from the event's receipt to its run's first action request
	RunQueue         prometheus.Gauge       // runs queued and not yet acknowledged (waiting ones included)
	RunsByStatus     *prometheus.GaugeVec   // runs now pending, running, waiting, or failed (the dead letter)
	OldestPending    prometheus.Gauge       // age in seconds of the oldest run not started yet
	Nodes            prometheus.Gauge       // nodes sharing the queues (1 on the embedded engines)

	// The processor's backlog on the event log and the bound that makes
	// the edge refuse new requests (backpressure).
	BacklogMessages prometheus.Gauge
	BacklogBytes    prometheus.Gauge
	BacklogBound    prometheus.Gauge // bytes: the measured rate times the allowed delay
	BacklogMaxBytes prometheus.Gauge
	BacklogRate     prometheus.Gauge       // messages stored per second, as measured
	BacklogByteRate prometheus.Gauge       // bytes stored per second, as measured
	BacklogOver     prometheus.Gauge       // 1 while new requests are refused
	Refused         *prometheus.CounterVec // requests refused for the backlog, by route
	// PlanViolations counts events that broke a tracking plan (or whose
	// transform failed), by source, type, plan and what became of them.
	PlanViolations *prometheus.CounterVec

	// Destinations: each one's circuit breaker state (1 on the current
	// state), the runs its breaker holds, and how long attempts take.
	DestinationState   *prometheus.GaugeVec
	DestinationWaiting *prometheus.GaugeVec
	AttemptDuration    *prometheus.HistogramVec
}

// New creates the collectors and registers them with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_ingested_events_total",
			Help: "Events received by the ingest APIs, by source and outcome (accepted, duplicate, rejected, failed, dropped).",
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
		PlanViolations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_plan_violations_total",
			Help: "Events that broke a tracking plan, by source, type (a type the plan does not list counts as \"(unplanned)\"), plan (\"(transform)\" for a failed transform) and outcome (flagged, dropped, blocked).",
		}, []string{"source", "type", "plan", "outcome"}),
		WebhookErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_webhook_errors_total",
			Help: "Webhook requests with a problem, by source and kind: unauthorized (refused with 401), unreadable (stored as webhook_error), expression (stored with the error).",
		}, []string{"source", "problem"}),
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_workflow_runs_total",
			Help: "Finished workflow runs by workflow and outcome (succeeded, failed: the dead letters, skipped).",
		}, []string{"workflow", "outcome"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_action_attempts_total",
			Help: "Action attempts by destination and outcome (succeeded, retryable, permanent).",
		}, []string{"destination", "outcome"}),
		ActionLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchyard_action_latency_seconds",
			Help:    "Time from an event's receipt to the first request of the first action its run sends.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		RunQueue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_run_queue_messages",
			Help: "Runs queued and not yet finished by a runner, waiting ones included.",
		}),
	}
	m.RunsByStatus = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchyard_workflow_runs",
		Help: "Runs now in each status that is not final, and failed runs (the dead letter, until retried).",
	}, []string{"status"})
	m.OldestPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "switchyard_run_oldest_pending_seconds",
		Help: "Age of the oldest run created and not started yet (0 when none): how far the runners are behind.",
	})
	m.Nodes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "switchyard_nodes",
		Help: "Switchyard nodes sharing the event log and run queue, as this node hears them (1 on the embedded engines).",
	})
	m.RunsWaiting = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchyard_runs_waiting",
		Help: "Runs held at a wait_for step, by workflow and step (refreshed every few seconds from the store).",
	}, []string{"workflow", "step"})
	m.WaitsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_waits_ended_total",
		Help: "Waits ended on this node, by workflow and how: event (a wait_for met), timeout, exit (exit_when met).",
	}, []string{"workflow", "how"})
	reg.MustRegister(m.RunsWaiting, m.WaitsEnded)
	m.ArchivedEvents = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchyard_archived_events_total",
		Help: "Events this node wrote to the archive.",
	})
	m.ArchivedRequests = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchyard_archived_requests_total",
		Help: "Captured requests this node wrote to the archive (archive.requests).",
	})
	m.ArchivedUntil = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "switchyard_archived_until_seconds",
		Help: "End of the last archive window this node wrote (Unix seconds): the archive holds every event received before it.",
	})
	reg.MustRegister(m.ArchivedEvents, m.ArchivedRequests, m.ArchivedUntil)
	m.backlog()
	m.destinations()
	reg.MustRegister(m.DestinationState, m.DestinationWaiting, m.AttemptDuration)
	reg.MustRegister(m.BacklogMessages, m.BacklogBytes, m.BacklogBound, m.BacklogMaxBytes, m.BacklogRate, m.BacklogByteRate, m.BacklogOver, m.Refused)
	reg.MustRegister(m.Nodes, m.RunsByStatus, m.OldestPending, m.Runs, m.Attempts, m.ActionLatency, m.RunQueue, m.WebhookErrors, m.PlanViolations, m.Ingested, m.PublishLatency, m.DedupHits, m.StoreBatch, m.ProcessorBatch, m.ProcessorLag, m.Processed, m.HTTPRequests)
	return m
}

func (m *Metrics) destinations() {
	m.DestinationState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchyard_destination_state",
		Help: "1 on each destination's circuit breaker state (closed, open, half_open, paused), 0 on the others.",
	}, []string{"destination", "state"})
	m.DestinationWaiting = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchyard_destination_runs_waiting",
		Help: "Runs waiting on each destination while its breaker is open or paused.",
	}, []string{"destination"})
	m.AttemptDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchyard_action_attempt_seconds",
		Help:    "How long each action attempt took, by destination.",
		Buckets: prometheus.ExponentialBuckets(0.002, 2, 15),
	}, []string{"destination"})
}

func (m *Metrics) backlog() {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	m.BacklogMessages = gauge("switchyard_backlog_messages", "Event-log messages accepted and not yet stored by the processor.")
	m.BacklogBytes = gauge("switchyard_backlog_bytes", "Bytes the event log holds for the processor.")
	m.BacklogBound = gauge("switchyard_backlog_bound_bytes", "Backlog in bytes beyond which new requests are refused: the measured store rate times backpressure.max_delay.")
	m.BacklogMaxBytes = gauge("switchyard_backlog_max_bytes", "Backlog in bytes beyond which new requests are refused (backpressure.max_bytes).")
	m.BacklogRate = gauge("switchyard_backlog_drain_messages_per_second", "Event-log messages the processor stored per second while it had a backlog (smoothed).")
	m.BacklogByteRate = gauge("switchyard_backlog_drain_bytes_per_second", "Event-log bytes the processor stored per second while it had a backlog (smoothed).")
	m.BacklogOver = gauge("switchyard_backlog_over_bound", "1 while the backlog is over its bound and ingest requests are refused, else 0.")
	m.Refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchyard_backpressure_refusals_total",
		Help: "Ingest requests refused (503, or 429 where the API answers throttling so) because the backlog was over its bound, by route.",
	}, []string{"route"})
}

// RegisterTails registers the live tails' collectors, read from the tail
// hub when scraped: the tails open, those disconnected for falling behind,
// and the seconds their filters took (bounded by tail.filter_cpu).
func RegisterTails(reg prometheus.Registerer, open, dropped, filterSeconds func() float64) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchyard_tail_subscribers", Help: "Live tails open on this node."}, open),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchyard_tail_dropped_total", Help: "Live tails disconnected for falling behind."}, dropped),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchyard_tail_filter_seconds_total", Help: "Time spent evaluating live tails' filters."}, filterSeconds),
	)
}
