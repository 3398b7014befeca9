package processor

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/telemetry"
)

// storeSpans are the spans of one transaction's storing, one per batch
// that carries a trace (in its request's trace, a child of the append),
// and the traceparent each stored event hands on to the workflow runs it
// starts. A transaction holds many requests' batches, so the storing of
// each is a span of its own, all the length of the transaction.
type storeSpans struct {
	spans   []trace.Span
	byEvent map[string]storeSpan // event id → its batch's
}

type storeSpan struct {
	span   trace.Span
	parent string // the span's traceparent
}

// startStoreSpans starts the spans of batches; nil when none carries a
// trace (tracing off, or not sampled).
func startStoreSpans(ctx context.Context, batches []*cdp.Batch) *storeSpans {
	var s *storeSpans
	for _, b := range batches {
		if b.TraceParent == "" {
			continue
		}
		if s == nil {
			s = &storeSpans{byEvent: map[string]storeSpan{}}
		}
		bctx, span := telemetry.Tracer().Start(telemetry.WithParent(ctx, b.TraceParent), "store",
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attribute.String("switchyard.source", b.SourceID),
				attribute.Int("switchyard.events", len(b.Events)), attribute.Int("switchyard.transaction_batches", len(batches))))
		s.spans = append(s.spans, span)
		ss := storeSpan{span: span, parent: telemetry.Parent(bctx)}
		for _, e := range b.Events {
			s.byEvent[e.ID] = ss
		}
	}
	return s
}

// of is the traceparent of e's store span, which the runs e starts
// descend from ("" without a trace).
func (s *storeSpans) of(e *cdp.Event) string {
	ss, _ := s.byEventOf(e)
	return ss.parent
}

// started records on e's store span that e started run r: the trigger,
// in the trace.
func (s *storeSpans) started(e *cdp.Event, r *cdp.Run) {
	if ss, ok := s.byEventOf(e); ok {
		ss.span.AddEvent("workflow run started", trace.WithAttributes(attribute.String("switchyard.workflow", r.WorkflowID),
			attribute.String("switchyard.run", r.ID), attribute.String("switchyard.event", e.ID)))
	}
}

func (s *storeSpans) byEventOf(e *cdp.Event) (storeSpan, bool) {
	if s == nil {
		return storeSpan{}, false
	}
	ss, ok := s.byEvent[e.ID]
	return ss, ok
}

// end ends the spans, failed with err if the transaction failed.
func (s *storeSpans) end(err error) {
	if s == nil {
		return
	}
	for _, span := range s.spans {
		telemetry.Fail(span, err)
		span.End()
	}
}
