// Package webhook serves POST /webhooks/{source}: Customer.io reporting
// webhooks (Customer.io's documentation) and any provider's signed webhooks
// (the webhook specs). A request is verified over its raw bytes,
// appended to the event log and answered at once; everything else happens
// asynchronously. Only a failed authentication is refused with 401: a
// verified body Switchyard cannot read is stored as a webhook_error event
// and answered 200, because a 4xx or 5xx stalls Customer.io's whole queue
// for an hour and would not make the sender's next attempt any better.
package webhook

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/metrics"
)

// API receives webhooks for the webhook sources.
type API struct {
	log     *slog.Logger
	in      *ingest.Service
	metrics *metrics.Metrics
	maxBody int64
	now     func() time.Time

	mu        sync.Mutex
	receivers map[string]*hooks.Receiver // by source id; rebuilt when the source changes
}

// New returns the webhook API.
func New(log *slog.Logger, in *ingest.Service, m *metrics.Metrics, maxBody int64) *API {
	return &API{log: log, in: in, metrics: m, maxBody: maxBody, now: time.Now, receivers: map[string]*hooks.Receiver{}}
}

// Response is the body of a 200: the id the event is stored under (unless
// it repeats one already stored, which is kept instead), and whether the
// event log recognised the request as such a repeat.
type Response struct {
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Receive serves POST /webhooks/{source}.
func (a *API) Receive() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src, err := a.source(r.PathValue("source"))
		if err != nil {
			a.in.Rejected("", 1)
			httpx.Error(w, r, a.log, err)
			return
		}
		body, err := httpx.ReadBody(w, r, a.maxBody)
		if err != nil {
			a.in.Rejected(src.ID, 1)
			httpx.Error(w, r, a.log, err)
			return
		}
		recv, err := a.receiver(src)
		if err != nil {
			httpx.Error(w, r, a.log, err)
			return
		}
		if err := recv.Verify(r.Header, body, a.now()); err != nil {
			a.in.Rejected(src.ID, 1)
			a.metrics.WebhookErrors.WithLabelValues(src.ID, metrics.WebhookUnauthorized).Inc()
			httpx.Error(w, r, a.log, err)
			return
		}
		if wait, ok := a.in.Allow(src); !ok {
			a.in.Rejected(src.ID, 1)
			w.Header().Set("Retry-After", wait)
			httpx.Error(w, r, a.log, cdp.Errorf(cdp.ERATELIMIT, "source %s accepts at most %g requests per second", src.ID, src.RateLimit))
			return
		}
		dec, err := a.Decode(r, body, src)
		if err != nil {
			httpx.Error(w, r, a.log, err)
			return
		}
		switch e := dec.Events[0]; {
		case e.Type == cdp.EventWebhookError:
			a.metrics.WebhookErrors.WithLabelValues(src.ID, metrics.WebhookUnreadable).Inc()
		case e.Error != "":
			a.metrics.WebhookErrors.WithLabelValues(src.ID, metrics.WebhookExpression).Inc()
		}
		duplicate, err := a.in.Append(r.Context(), src, dec.Events...)
		if err != nil {
			httpx.Error(w, r, a.log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, Response{ID: dec.Events[0].ID, Duplicate: duplicate})
	})
}

// Decode decodes a verified webhook of src into its event. A body it
// cannot read, or whose expressions fail, is kept as a webhook_error
// event: the provider need not retry it.
func (a *API) Decode(r *http.Request, body []byte, src *cdp.Source) (ingest.Decoded, error) {
	recv, err := a.receiver(src)
	if err != nil {
		return ingest.Decoded{}, err
	}
	now := a.now().UTC()
	var e *cdp.Event
	if src.Kind == cdp.SourceCustomerIOWebhook {
		e = reportEvent(r.Header, body, now)
	} else {
		e = a.genericEvent(r, recv, body, now)
	}
	if err := ingest.CheckEvent(e); err != nil {
		// Verified, so kept: as a webhook_error the provider need not
		// retry, rather than a 400 it would retry for days.
		e = errorEvent(e, body, cdp.ErrorMessage(err))
	}
	return ingest.Decoded{Events: []*cdp.Event{e}}, nil
}

// source finds an enabled webhook source.
func (a *API) source(id string) (*cdp.Source, error) {
	src, ok := a.in.Source(id)
	if !ok || (src.Kind != cdp.SourceCustomerIOWebhook && src.Kind != cdp.SourceWebhook) {
		return nil, cdp.Errorf(cdp.ENOTFOUND, "no webhook source %q", id)
	}
	if !src.Enabled {
		return nil, cdp.Errorf(cdp.EFORBIDDEN, "source %s is disabled", id)
	}
	return src, nil
}

// receiver returns src compiled, compiling it again when it has changed.
func (a *API) receiver(src *cdp.Source) (*hooks.Receiver, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r, ok := a.receivers[src.ID]; ok && r.Source == src {
		return r, nil
	}
	r, problems := hooks.Compile(src)
	if problems != nil {
		// Sources are checked when they are loaded, so this is a bug.
		return nil, cdp.Errorf(cdp.EINTERNAL, "source %s cannot be compiled: %v", src.ID, problems)
	}
	a.receivers[src.ID] = r
	return r, nil
}

// genericEvent builds the event of a generic webhook: the decoded body as
// properties, typed and keyed by the source's expressions.
func (a *API) genericEvent(r *http.Request, recv *hooks.Receiver, body []byte, now time.Time) *cdp.Event {
	in := hooks.Decode(r.Header, r.URL.Query(), body)
	typ, dedup, problem := recv.Describe(r.Context(), in)
	return &cdp.Event{Type: typ, MessageID: dedup, Timestamp: now, Properties: in.Properties,
		Context: []byte(`{}`), UserAgent: r.Header.Get("User-Agent"), Error: problem}
}

// Refuse answers a webhook refused because the event log's backlog is
// over its bound: 503, which providers retry with their usual backoff (a
// 429 would make Customer.io pause the webhook for an hour).
func Refuse(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"code": cdp.EUNAVAILABLE, "message": httpx.Overloaded}})
}
