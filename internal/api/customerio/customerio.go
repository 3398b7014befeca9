// Package customerio serves Customer.io's Track API so that Customer.io's client libraries work against Switchyard by
// changing only their base URL: Basic site_id:api_key auth, 200 {} on
// success, {"meta":{"error":…}} errors with the documented messages.
package customerio

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// handler serves one Track API call for an authenticated source.
type handler func(w http.ResponseWriter, r *http.Request, src *cdp.Source)

// API holds what every Track API handler shares.
type API struct {
	log     *slog.Logger
	in      *ingest.Service
	sources *ingest.Sources
	maxBody int64

	// Data Pipelines input dropped with a 200 is logged at most every 10 s,
	// with the count since the last line.
	dropLog rate.Sometimes
	drops   atomic.Int64
}

// New returns the Track API.
func New(log *slog.Logger, in *ingest.Service, sources *ingest.Sources, maxBody int64) *API {
	return &API{log: log, in: in, sources: sources, maxBody: maxBody, dropLog: rate.Sometimes{Interval: 10 * time.Second}}
}

// success writes the 200 {} every successful Track call returns (any
// other 2xx is an error to go-customerio).
func success(w http.ResponseWriter) { httpx.WriteJSON(w, http.StatusOK, struct{}{}) }

// fail writes Customer.io's {"meta":{"error":"…"}} envelope.
func fail(w http.ResponseWriter, status int, msg string) {
	httpx.WriteJSON(w, status, map[string]any{"meta": map[string]string{"error": msg}})
}

// failErr writes an application error in Customer.io's envelope.
func (a *API) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status := httpx.Status(cdp.ErrorCode(err))
	if status >= 500 {
		a.log.Error("track api failed", "path", r.URL.Path, "err", err)
	}
	fail(w, status, cdp.ErrorMessage(err))
}

// Auth authenticates Basic site_id:api_key against the customerio_track
// sources and applies the source's rate limit before calling h.
func (a *API) Auth(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := basicAuth(r)
		src, found := a.sources.ByCredentials(cdp.SourceCustomerIOTrack, user, pass)
		if !ok || !found || !src.Enabled {
			a.in.Rejected("", 1)
			fail(w, http.StatusUnauthorized, "Unauthorized request")
			return
		}
		if wait, ok := a.in.Allow(src); !ok {
			a.in.Rejected(src.ID, 1)
			w.Header().Set("Retry-After", wait)
			fail(w, http.StatusTooManyRequests, "rate limit exceeded")
			return
		}
		h(w, r, src)
	})
}

// basicAuth decodes Basic credentials in the standard base64 alphabet or,
// failing that, the URL-safe one that go-customerio sends.
func basicAuth(r *http.Request) (user, pass string, ok bool) {
	enc, found := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
	if !found {
		return "", "", false
	}
	enc = strings.TrimSpace(enc)
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err := e.DecodeString(enc); err == nil {
			user, pass, ok = strings.Cut(string(raw), ":")
			return user, pass, ok
		}
	}
	return "", "", false
}

// Refuse answers a request refused because the event log's backlog is
// over its bound as Customer.io answers throttling: 429 (which every
// Customer.io and Segment client retries, honouring Retry-After), in the
// v1 or v2 envelope.
func Refuse(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/v2/") {
		failV2(w, http.StatusTooManyRequests, v2Error{Reason: "too_many_requests", Message: httpx.Overloaded})
		return
	}
	fail(w, http.StatusTooManyRequests, httpx.Overloaded)
}
