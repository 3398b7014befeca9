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
	spans  []trace.Span
	parent map[string]string // event id → its batch's store span
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
			s = &storeSpans{parent: map[string]string{}}
		}
		bctx, span := telemetry.Tracer().Start(telemetry.WithParent(ctx, b.TraceParent), "store",
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attribute.String("switchyard.source", b.SourceID),
				attribute.Int("switchyard.events", len(b.Events)), attribute.Int("switchyard.transaction_batches", len(batches))))
		s.spans = append(s.spans, span)
		tp := telemetry.Parent(bctx)
		for _, e := range b.Events {
			s.parent[e.ID] = tp
		}
	}
	return s
}

// of is the traceparent for what event e starts ("" without a trace).
func (s *storeSpans) of(e *cdp.Event) string {
	if s == nil {
		return ""
	}
	return s.parent[e.ID]
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
