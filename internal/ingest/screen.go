package ingest

import (
	"context"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/quality"
)

// SetPlans replaces the tracking plans every request is checked against.
func (s *Service) SetPlans(ps *quality.Plans) { s.plans.Store(ps) }

// Plans are the tracking plans in force.
func (s *Service) Plans() *quality.Plans { return s.plans.Load() }

// Blocked refuses a request that carried events a tracking plan in block
// mode refuses: the whole request, so that a client that fixes its events
// sends them all again. Each API words it in its own dialect (Index and
// Violations say where); as a plain error it is a cdp EINVALID.
type Blocked struct {
	Events []BlockedEvent
}

// BlockedEvent is one refused event: its position among the request's
// events, its type and what it broke.
type BlockedEvent struct {
	Index      int
	Type       string
	Violations []cdp.Violation
}

func (b *Blocked) Error() string { return cdp.EINVALID + ": " + b.Message() }

// Unwrap is the refusal as a cdp error, for the code and message.
func (b *Blocked) Unwrap() error { return cdp.Errorf(cdp.EINVALID, "%s", b.Message()) }

// Message says what the first blocked event broke, and how many more
// problems there are.
func (b *Blocked) Message() string {
	first := b.Events[0]
	msg := fmt.Sprintf("event %q breaks %s", first.Type, first.Violations[0])
	n := -1
	for _, e := range b.Events {
		n += len(e.Violations)
	}
	switch {
	case n == 1:
		msg += " (and 1 more problem)"
	case n > 1:
		msg += fmt.Sprintf(" (and %d more problems)", n)
	}
	return msg
}

// Problems lists every violation of the blocked events, each as one line
// naming the event by its position among the request's events.
func (b *Blocked) Problems() []string {
	var out []string
	for _, e := range b.Events {
		for _, v := range e.Violations {
			out = append(out, fmt.Sprintf("events[%d] (%s): %s", e.Index, e.Type, v))
		}
	}
	return out
}

// screen applies src's transform and the tracking plans to b's client
// events: dropped events leave the batch, events that break a plan in
// flag mode keep their violations, and an event a plan in block mode
// refuses makes the whole request a *Blocked. Without a source (nil)
// there is nothing to apply.
func (s *Service) screen(ctx context.Context, src *cdp.Source, b *cdp.Batch) error {
	if src == nil {
		return nil
	}
	t, ps := s.transforms.Of(src), s.plans.Load()
	if t == nil && !ps.For(src.ID) {
		return nil
	}
	kept := make([]*cdp.Event, 0, len(b.Events))
	var blocked Blocked
	var broken []brokenEvent // each with what became of it, for the metric
	for i, e := range b.Events {
		if isSystemEvent(e.Type) || e.Type == cdp.EventWebhookError {
			// Made by the server, not sent by the client: a webhook body
			// that could not be read is kept as it is, whatever the plans.
			kept = append(kept, e)
			continue
		}
		e.SourceID = b.SourceID
		keep, mode := quality.Screen(ctx, t, ps, e)
		outcome := quality.Outcome(e, keep, mode)
		switch outcome {
		case quality.OutcomeBlocked:
			blocked.Events = append(blocked.Events, BlockedEvent{Index: i, Type: e.Type, Violations: e.Violations})
		case quality.OutcomeStored, quality.OutcomeFlagged:
			kept = append(kept, e)
		}
		if len(e.Violations) > 0 {
			broken = append(broken, brokenEvent{e, outcome})
		}
	}
	if len(blocked.Events) > 0 {
		for i := range broken {
			broken[i].outcome = quality.OutcomeBlocked // the whole request is refused
		}
		s.countViolations(ps, broken)
		s.metrics.Ingested.WithLabelValues(b.SourceID, metrics.OutcomeRejected).Add(float64(len(b.Events)))
		return &blocked
	}
	s.countViolations(ps, broken)
	if n := len(b.Events) - len(kept); n > 0 {
		s.metrics.Ingested.WithLabelValues(b.SourceID, metrics.OutcomeDropped).Add(float64(n))
	}
	b.Events = kept
	return nil
}

// brokenEvent is an event with violations and what became of it.
type brokenEvent struct {
	e       *cdp.Event
	outcome string // quality.OutcomeFlagged, …Dropped or …Blocked
}

// countViolations counts each broken event once per plan it broke (and
// once for a failed transform).
func (s *Service) countViolations(ps *quality.Plans, broken []brokenEvent) {
	for _, b := range broken {
		e := b.e
		for _, plan := range quality.BrokenPlans(e) {
			s.metrics.PlanViolations.WithLabelValues(e.SourceID, ps.MetricType(plan, e.Type), plan, b.outcome).Inc()
		}
		for _, v := range e.Violations {
			if v.Kind == cdp.ViolationTransform {
				s.metrics.PlanViolations.WithLabelValues(e.SourceID, "(unplanned)", "(transform)", b.outcome).Inc()
				break
			}
		}
	}
}
