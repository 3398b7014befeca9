package workflow

import (
	"context"
	"errors"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpclient"
	"github.com/switchyardhq/switchyard/internal/telemetry"
)

// startRunSpan starts the span of one advance of run: a child of the
// storing of its event (run.TraceParent), so that a run that waits or
// retries for hours still joins the trace of the request that started it.
func startRunSpan(ctx context.Context, run *cdp.Run) (context.Context, trace.Span) {
	return telemetry.Tracer().Start(telemetry.WithParent(ctx, run.TraceParent), "run "+run.WorkflowID,
		trace.WithAttributes(attribute.String("switchyard.run", run.ID), attribute.String("switchyard.workflow", run.WorkflowID),
			attribute.Int("switchyard.workflow_version", run.WorkflowVersion), attribute.String("switchyard.event", run.EventID)))
}

// endRunSpan records where the advance left the run.
func endRunSpan(span trace.Span, run *cdp.Run, err error) {
	span.SetAttributes(attribute.String("switchyard.run_status", run.Status))
	telemetry.Fail(span, err)
	span.End()
}

// execTraced executes a step inside a span of its own.
func (st *runState) execTraced(ctx context.Context, cs *CompiledStep, id string) error {
	ctx, span := telemetry.Tracer().Start(ctx, "step "+id, trace.WithAttributes(
		attribute.String("switchyard.step", id), attribute.String("switchyard.step_kind", strings.Join(cs.kinds(), ""))))
	err := st.exec(ctx, cs, id)
	if span.IsRecording() {
		rec := st.step(id)
		span.SetAttributes(attribute.String("switchyard.step_status", rec.Status), attribute.Int("switchyard.attempts", len(rec.Attempts)))
		if rec.Status == cdp.RunFailed && rec.Error != "" {
			telemetry.Fail(span, errors.New(rec.Error))
		}
	}
	if !errors.Is(err, errStop) {
		telemetry.Fail(span, err)
	}
	span.End()
	return err
}

// startAttemptSpan starts the span of one outbound attempt; the client
// sends its traceparent with the request.
func startAttemptSpan(ctx context.Context, dest *Destination, req httpclient.Request, n int) (context.Context, trace.Span) {
	return telemetry.Tracer().Start(ctx, req.Method+" "+dest.ID, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("switchyard.destination", dest.ID), attribute.String("http.request.method", req.Method),
			attribute.Int("switchyard.attempt", n)))
}

// endAttemptSpan records what the attempt did: the (redacted) URL, the
// status, the outcome, and the destination's breaker after it.
func (st *runState) endAttemptSpan(span trace.Span, dest *Destination, a *httpclient.Attempt, err error, probe bool) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	if st.e.Breakers != nil && dest != noDestination {
		span.SetAttributes(attribute.String("switchyard.breaker", string(st.e.Breakers.Status(dest.ID).State)),
			attribute.Bool("switchyard.probe", probe))
	}
	if a == nil {
		telemetry.Fail(span, err)
		return
	}
	span.SetAttributes(attribute.String("url.full", a.Request.URL), attribute.String("switchyard.outcome", a.Outcome))
	if a.Response != nil {
		span.SetAttributes(attribute.Int("http.response.status_code", a.Response.Status))
	}
	if a.Class != httpclient.Succeeded {
		telemetry.Fail(span, errors.New(a.Error))
	}
}
