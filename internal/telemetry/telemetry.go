// Package telemetry sets up OpenTelemetry tracing, and carries a trace's
// context where HTTP headers do not reach: inside event-log batches (one
// message holds the requests of many traces) and on workflow runs (a run
// resumes hours later, on any node). The carried form is the W3C
// traceparent header value.
//
// With tracing off nothing is installed: every span is OpenTelemetry's
// no-op, and the HTTP middleware is not mounted at all.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracer is the tracer of every Switchyard span.
func Tracer() trace.Tracer { return otel.Tracer("github.com/switchyardhq/switchyard") }

// Settings say whether and where traces go (the configuration's tracing
// block; docs/configuration.md).
type Settings struct {
	Enabled       bool
	Endpoint      string  // OTLP/HTTP base URL; empty: the OTEL_* variables
	SamplingRatio float64 // of new traces, 0 to 1
	Version       string  // service.version
}

// Setup installs a tracer provider exporting to cfg's collector over
// OTLP/HTTP, and the W3C trace-context propagator. It returns the
// function that flushes and stops it (a no-op when tracing is off).
func Setup(ctx context.Context, cfg Settings) (shutdown func(context.Context) error, err error) {
	if !cfg.Enabled {
		return func(context.Context) error { return nil }, nil
	}
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing exporter: %w", err)
	}
	// Our name and version first; OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES, when set, win.
	res, err := resource.Merge(resource.NewSchemaless(attribute.String("service.name", "switchyard"),
		attribute.String("service.version", cfg.Version)), resource.Environment())
	if err != nil {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if os.Getenv("OTEL_TRACES_SAMPLER") == "" { // else the SDK reads it
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SamplingRatio))))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown, nil
}

// Enabled reports whether a tracer provider is installed.
func Enabled() bool {
	_, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	return ok
}

// Parent is the traceparent of ctx's span, or "" without one.
func Parent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// WithParent returns ctx carrying the remote span context traceparent
// names; a missing or malformed one leaves ctx as it is.
func WithParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// TraceID is the trace id of a traceparent, or "" if it has none.
func TraceID(traceparent string) string {
	sc := trace.SpanContextFromContext(WithParent(context.Background(), traceparent))
	if !sc.IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

// Fail marks span as failed with err (nothing when err is nil).
func Fail(span trace.Span, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}

// LogHandler adds trace_id and span_id to every record logged with a
// context that holds a span, so that logs join the traces they belong to.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }

// Server wraps an ingest route's handler in a server span named for its
// pattern ("POST /v1/track"), continuing the caller's trace when the
// request carries a traceparent (a sampled caller's trace is recorded
// whatever the sampling ratio, as W3C parent-based sampling has it).
func Server(pattern string, h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, pattern, otelhttp.WithSpanNameFormatter(func(op string, _ *http.Request) string { return op }))
}
