package cdp

import (
	"context"
	"strings"
	"time"
)

// RawRequest is the HTTP request that carried a batch, as it arrived
// (secret headers redacted, the body capped), kept with the batch's events
// so that a user can see exactly what a client or provider sent. It
// travels in every event-log message, so it is kept cheap to encode: the
// headers as their wire lines, the body as bytes.
type RawRequest struct {
	Method     string `json:"method"`
	Path       string `json:"path"` // with the query string
	RemoteAddr string `json:"remote_addr,omitempty"`
	// Header holds "Name: value" lines separated by "\n".
	Header     string    `json:"header"`
	Body       []byte    `json:"body,omitempty"` // at most the capture cap
	BodySize   int64     `json:"body_size"`      // bytes received
	Truncated  bool      `json:"truncated,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
	// Packed is Header and Body compressed as a store keeps them, when the
	// event log carried them so: the edge packs a request once, in the
	// request's own goroutine, and the store's single writer need not.
	Packed []byte `json:"-"`
}

type rawKey struct{}

// WithRawRequest returns ctx carrying the request being captured; the
// ingest service attaches it to the batch the request appends.
func WithRawRequest(ctx context.Context, r *RawRequest) context.Context {
	return context.WithValue(ctx, rawKey{}, r)
}

// RawRequestFrom returns the request captured for ctx, or nil.
func RawRequestFrom(ctx context.Context) *RawRequest {
	r, _ := ctx.Value(rawKey{}).(*RawRequest)
	return r
}

// Headers parses Header back into a map (Host included, secrets as
// captured: masked).
func (r *RawRequest) Headers() map[string][]string {
	h := map[string][]string{}
	for line := range strings.SplitSeq(r.Header, "\n") {
		if name, value, ok := strings.Cut(line, ": "); ok {
			h[name] = append(h[name], value)
		}
	}
	return h
}
