package telemetry

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// A traceparent goes into a context and back out unchanged; one that is
// missing or malformed leaves the context without a span.
func TestParent(t *testing.T) {
	ctx := WithParent(context.Background(), parent)
	if got := Parent(ctx); got != parent {
		t.Errorf("round trip: %q, want %q", got, parent)
	}
	if got := TraceID(parent); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("TraceID: %q", got)
	}
	for _, bad := range []string{"", "00-xyz", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"} {
		if got := Parent(WithParent(context.Background(), bad)); got != "" {
			t.Errorf("WithParent(%q) carried %q", bad, got)
		}
		if got := TraceID(bad); got != "" {
			t.Errorf("TraceID(%q) = %q", bad, got)
		}
	}
}

// A span started under a carried parent joins its trace, and what is
// logged with its context names the trace and the span.
func TestSpanJoinsAndLogs(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(WithParent(context.Background(), parent), "child")
	defer span.End()
	sc := span.SpanContext()
	if sc.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || !sc.IsSampled() {
		t.Fatalf("child span %v is not in the carried, sampled trace", sc)
	}
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "x")
	log.InfoContext(ctx, "in a span")
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"trace_id":"0af7651916cd43dd8448eb211c80319c"`) ||
		!strings.Contains(lines[0], `"span_id":"`+sc.SpanID().String()+`"`) || strings.Contains(lines[1], "trace_id") {
		t.Errorf("logs:\n%s", buf.String())
	}
}

// Tracing off installs nothing; on, it installs a provider that Enabled
// sees, and stopping it sends what was recorded to the collector's
// OTLP/HTTP endpoint.
func TestSetup(t *testing.T) {
	stop, err := Setup(t.Context(), Settings{})
	if err != nil || Enabled() {
		t.Fatalf("off: %v, enabled %v", err, Enabled())
	}
	_ = stop(t.Context())

	got := make(chan string, 10)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- r.URL.Path + " " + r.Header.Get("Content-Type") + " " + strconv.Itoa(len(body))
	}))
	defer collector.Close()
	stop, err = Setup(t.Context(), Settings{Enabled: true, Endpoint: collector.URL, SamplingRatio: 1, Version: "v-test"})
	if err != nil || !Enabled() {
		t.Fatalf("on: %v, enabled %v", err, Enabled())
	}
	defer otel.SetTracerProvider(noop.NewTracerProvider())
	_, span := Tracer().Start(t.Context(), "a span")
	span.End()
	if err := stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if !strings.HasPrefix(req, "/v1/traces application/x-protobuf ") || strings.HasSuffix(req, " 0") {
			t.Errorf("the collector received %q", req)
		}
	default:
		t.Error("stopping sent nothing to the collector")
	}
}
