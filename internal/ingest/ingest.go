// Package ingest is the one application service every ingest API calls:
// it takes events already decoded from a wire format, resolves identity
// where the response needs it, and appends them to the event log. A
// request is acknowledged only after that append.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/disk"
	"github.com/switchyardhq/switchyard/internal/envelope"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/metrics"
	"github.com/switchyardhq/switchyard/internal/quality"
	"github.com/switchyardhq/switchyard/internal/redact"
	"github.com/switchyardhq/switchyard/internal/telemetry"
)

// Service appends accepted events to the event log.
type Service struct {
	commit   *committer
	identity *identity.Service
	sources  *Sources
	metrics  *metrics.Metrics
	limits   limiters
	refusals Refusals
	plans    atomic.Pointer[quality.Plans]
	// transforms are the sources' transforms, compiled once.
	transforms quality.Transforms
	now        func() time.Time
}

// Refusals are what makes the edge refuse new requests, before reading
// them, with Retry-After.
type Refusals struct {
	Backlog *Backpressure // the event log's backlog; nil: never
	Disk    *disk.Guard   // the data directory's free space; nil: never
}

// diskRetryAfter is the Retry-After of a request refused for a full disk:
// space comes back when an operator frees it, not by itself.
const diskRetryAfter = "30"

// New returns a Service; Close it to stop its committers. Overloaded
// consults refusals.
func New(log cdp.EventLog, id *identity.Service, sources *Sources, m *metrics.Metrics, refusals Refusals) *Service {
	return &Service{commit: newCommitter(log), identity: id, sources: sources, metrics: m, refusals: refusals, now: time.Now}
}

// Backlog is the last reading of the event log's backlog.
func (s *Service) Backlog() BacklogStatus { return s.refusals.Backlog.Status() }

// Disk is the last reading of the data directory's free space.
func (s *Service) Disk() disk.Status { return s.refusals.Disk.Status() }

// Overloaded reports whether the event log's backlog is over its bound
// or the disk nearly full, so that an API refuses the request (before
// reading its body) with the Retry-After returned; route names the route
// for the refusals metric.
func (s *Service) Overloaded(route string) (retryAfter string, over bool) {
	retryAfter, over = s.refusals.Backlog.Overloaded()
	if !over && s.refusals.Disk.Low() {
		retryAfter, over = diskRetryAfter, true
	}
	if over {
		s.metrics.Refused.WithLabelValues(route).Inc()
	}
	return retryAfter, over
}

// Close waits for queued appends and stops the service; later calls to
// Publish fail with EUNAVAILABLE.
func (s *Service) Close() { s.commit.close() }

// source is the source with id, nil when there is none (a service
// without sources is a test of the event log alone).
func (s *Service) source(id string) *cdp.Source {
	if s.sources == nil {
		return nil
	}
	src, _ := s.sources.Get(id)
	return src
}

// Source returns the source with id, if it exists.
func (s *Service) Source(id string) (*cdp.Source, bool) { return s.sources.Get(id) }

// Rejected counts events refused before they reached the service (bad
// input, bad credentials). sourceID "" counts under "unknown".
func (s *Service) Rejected(sourceID string, n int) {
	if _, ok := s.sources.Get(sourceID); !ok {
		sourceID = "unknown"
	}
	s.metrics.Ingested.WithLabelValues(sourceID, metrics.OutcomeRejected).Add(float64(n))
}

// Publish durably appends b to the event log, group-committed with
// concurrent requests. The request captured for ctx, if any, travels with
// the batch and is stored with its events. When every client event carries a message id, the
// batch gets a deterministic dedup id, used by the log's duplicate window
// when the batch travels alone; the store's unique (source, message id)
// catches every other repeat.
func (s *Service) Publish(ctx context.Context, b *cdp.Batch) (duplicate bool, err error) {
	return s.publish(ctx, b, nil)
}

// publish is Publish, of the events of replay r when r is set.
func (s *Service) publish(ctx context.Context, b *cdp.Batch, r *Replay) (duplicate bool, err error) {
	src := s.source(b.SourceID)
	if r != nil {
		r.stamp(b) // its events point at the original request's capture
	} else if raw := cdp.RawRequestFrom(ctx); raw != nil && b.Raw == nil {
		if src != nil {
			redactRaw(raw, src.Secrets())
		}
		b.Raw = raw
		for _, e := range b.Events {
			e.RequestID = b.ID
		}
	}
	if err := s.screen(ctx, src, b); err != nil {
		return false, err
	}
	if len(b.Events) == 0 {
		return false, nil // every event dropped: nothing to append
	}
	ctx, span := appendSpan(ctx, b)
	defer span.End()
	data := envelope.Encode(b)
	n := float64(len(b.Events))
	start := time.Now()
	// Counted by what became of the events, not of the request: those of
	// a request its client gave up on may well be in the log.
	count := func(res appendResult) {
		outcome := metrics.OutcomeAccepted
		switch {
		case res.err != nil:
			s.metrics.Ingested.WithLabelValues(b.SourceID, metrics.OutcomeFailed).Add(n)
			return
		case res.duplicate:
			outcome = metrics.OutcomeDuplicate
			s.metrics.DedupHits.WithLabelValues("log").Add(n)
		}
		s.metrics.Ingested.WithLabelValues(b.SourceID, outcome).Add(n)
		s.metrics.PublishLatency.Observe(time.Since(start).Seconds())
	}
	duplicate, err = s.commit.append(ctx, b.SourceID, dedupID(b), data, count)
	if err != nil {
		telemetry.Fail(span, err)
		return false, cdp.Errorf(cdp.EUNAVAILABLE, "the event log did not accept the events: %v", err)
	}
	span.SetAttributes(attribute.Bool("switchyard.duplicate", duplicate))
	return duplicate, nil
}

// Append stamps events with ids, source and receive time (and the current
// time when they carry none) and publishes them as one batch.
func (s *Service) Append(ctx context.Context, src *cdp.Source, events ...*cdp.Event) (duplicate bool, err error) {
	if err := checkEvents(events); err != nil {
		return false, err
	}
	return s.Publish(ctx, s.batch(src, events))
}

// batch stamps events with ids, source and receive time (and the current
// time when they carry none) as one batch.
func (s *Service) batch(src *cdp.Source, events []*cdp.Event) *cdp.Batch {
	now := s.now().UTC()
	b := &cdp.Batch{ID: cdp.NewID(), SourceID: src.ID, ReceivedAt: now, Events: events}
	for _, e := range events {
		e.ID, e.SourceID, e.ReceivedAt = cdp.NewID(), src.ID, now
		if e.Timestamp.IsZero() {
			e.Timestamp = now
		}
	}
	return b
}

// redactRaw masks a source's own credentials wherever a client put them
// in the captured request: the query, the headers, the body (the browser
// SDK's writeKey).
func redactRaw(raw *cdp.RawRequest, secrets []string) {
	raw.Path = redact.Values(raw.Path, secrets...)
	raw.Header = redact.Values(raw.Header, secrets...)
	raw.Body = redact.Bytes(raw.Body, secrets...)
}

// dedupID derives the event log's dedup id from the client's message ids,
// or "" if any client event lacks one. System events (no message id, added
// by the server) do not count: a retry may legitimately carry fewer.
func dedupID(b *cdp.Batch) string {
	h := sha256.New()
	h.Write([]byte(b.SourceID))
	n := 0
	for _, e := range b.Events {
		if isSystemEvent(e.Type) && e.MessageID == "" {
			continue
		}
		if e.MessageID == "" {
			return ""
		}
		h.Write([]byte{0})
		h.Write([]byte(e.MessageID))
		n++
	}
	if n == 0 {
		return ""
	}
	// 128 bits, base64: the event log keeps every id of its duplicate
	// window in memory, so a short id matters at tens of thousands/s.
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

func isSystemEvent(t string) bool {
	return t == cdp.EventProfileCreated || t == cdp.EventSessionOpened || t == cdp.EventVisitStarted
}

// TrackRequest is a session-bound request from a tracker (Tracardi /track
// and /collect), already decoded and validated by its API.
type TrackRequest struct {
	Source    *cdp.Source
	SessionID string // "" opens a new session
	ProfileID string // the profile the client believes it is
	// ProfileLess tracks without any profile.
	ProfileLess bool
	// NoSession tracks without any session (Tracardi's /collect without a
	// session id): the response carries no session id.
	NoSession bool
	// SaveSession stores the session and emits session-opened/visit-started.
	SaveSession bool
	// Context and Properties (JSON objects or nil) are merged into the
	// session's context and properties.
	Context    json.RawMessage
	Properties json.RawMessage
	// Events carry Type, MessageID, Timestamp (zero = now), Properties,
	// Context and flags; the service assigns ids, profile and session.
	Events []*cdp.Event
	// replay, when set, is the replay this request is (Service.Replay).
	replay *Replay
}

// TrackResult is what the tracker response reports.
type TrackResult struct {
	BatchID   string
	SessionID string // "" with NoSession
	ProfileID string // "" when profile-less
	EventIDs  []string
}

// Track resolves the session and profile of r, adds the system events a
// new profile or session implies (Tracardi's code), and
// appends everything to the event log as one batch.
func (s *Service) Track(ctx context.Context, r TrackRequest) (TrackResult, error) {
	r.replay = nil
	return s.track(ctx, r)
}

func (s *Service) track(ctx context.Context, r TrackRequest) (TrackResult, error) {
	if err := errors.Join(CheckID("session id", r.SessionID), CheckID("profile id", r.ProfileID), checkEvents(r.Events)); err != nil {
		return TrackResult{}, err
	}
	validUTF8(&r.Context)
	validUTF8(&r.Properties)
	var sess identity.SessionResult
	if rp := r.replay; rp != nil && (rp.ProfileID != "" || rp.SessionID != "") {
		// A replay belongs to the original's profile and session: it
		// creates neither again.
		sess = identity.SessionResult{ProfileID: rp.ProfileID, SessionID: rp.SessionID}
	} else if !r.NoSession {
		var err error
		sess, err = s.identity.ResolveSession(ctx, identity.SessionRequest{SourceID: r.Source.ID, SessionID: r.SessionID,
			ProfileID: r.ProfileID, ProfileLess: r.ProfileLess, Save: r.SaveSession})
		if err != nil {
			return TrackResult{}, err
		}
	}
	now := s.now().UTC()
	b := &cdp.Batch{ID: cdp.NewID(), SourceID: r.Source.ID, ReceivedAt: now, Events: r.Events}
	sessionID := sess.SessionID
	if !r.SaveSession {
		sessionID = "" // events of an unsaved session do not point at it
	} else if sessionID != "" {
		b.Session = &cdp.SessionUpdate{ID: sessionID, ProfileID: sess.ProfileID, Context: r.Context, Properties: r.Properties}
	}
	var types []string
	for _, e := range r.Events {
		types = append(types, e.Type)
	}
	// The events a first visit implies carry the time of the event that
	// caused them, so that they sort with it rather than seconds before.
	at := now
	for _, e := range r.Events {
		if !e.Timestamp.IsZero() {
			at = e.Timestamp
			break
		}
	}
	system := func(typ string, props json.RawMessage) {
		b.Events = append(b.Events, &cdp.Event{Type: typ, Timestamp: at, Properties: props})
	}
	if sess.NewProfile {
		system(cdp.EventProfileCreated, nil)
	}
	if sess.NewSession && r.SaveSession {
		trigger, _ := json.Marshal(map[string][]string{"trigger-event-types": types})
		system(cdp.EventVisitStarted, trigger)
		system(cdp.EventSessionOpened, nil)
	}
	res := TrackResult{BatchID: b.ID, SessionID: sess.SessionID, ProfileID: sess.ProfileID}
	for _, e := range b.Events {
		e.ID, e.SourceID, e.ProfileID, e.SessionID, e.ReceivedAt = cdp.NewID(), r.Source.ID, sess.ProfileID, sessionID, now
		if e.Timestamp.IsZero() {
			e.Timestamp = now
		}
		if e.Properties == nil {
			e.Properties = json.RawMessage(`{}`)
		}
		if e.Context == nil {
			e.Context = json.RawMessage(`{}`)
		}
		res.EventIDs = append(res.EventIDs, e.ID)
	}
	if _, err := s.publish(ctx, b, r.replay); err != nil {
		return TrackResult{}, err
	}
	return res, nil
}

// appendSpan starts the span of b's append when tracing is on (off, it
// is the no-op span and costs the hot path nothing): the request's span
// (the HTTP server's) is told the source and the events, the append is
// its child, and b carries the append's traceparent to the processor.
func appendSpan(ctx context.Context, b *cdp.Batch) (context.Context, trace.Span) {
	if !telemetry.Enabled() {
		return ctx, trace.SpanFromContext(context.Background())
	}
	attrs := []attribute.KeyValue{attribute.String("switchyard.source", b.SourceID), attribute.Int("switchyard.events", len(b.Events))}
	trace.SpanFromContext(ctx).SetAttributes(attrs...)
	ctx, span := telemetry.Tracer().Start(ctx, "eventlog append", trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	if span.IsRecording() {
		b.TraceParent = telemetry.Parent(ctx)
	}
	return ctx, span
}
