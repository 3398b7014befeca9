package customerio

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// Every Track API call is served the same way: authenticated, its body
// read, decoded by the call's ingest.Decoder (the methods named for the
// calls: Identify, Track, Entity…), appended, answered. The decoders read
// nothing but the request, so replay calls them directly.

// invalid is a request refused with Customer.io's message.
func invalid(msg string) error { return cdp.Errorf(cdp.EINVALID, "%s", msg) }

// Serve serves a Track API v1 call: 200 {} once its events are in the
// event log, {"meta":{"error":…}} otherwise.
func (a *API) Serve(d ingest.Decoder) http.Handler {
	return a.serve(d, a.failErr, func(w http.ResponseWriter, _ ingest.Decoded) { success(w) })
}

// ServeForm serves the form submission call, which answers 204.
func (a *API) ServeForm(d ingest.Decoder) http.Handler {
	return a.serve(d, a.failErr, func(w http.ResponseWriter, _ ingest.Decoded) { w.WriteHeader(http.StatusNoContent) })
}

// ServeV2 serves a Track API v2 call: 200 {}, or v2's {"errors":[…]}
// listing what it refused (207 when the rest of a batch was accepted).
func (a *API) ServeV2(d ingest.Decoder) http.Handler {
	return a.serve(d, a.failV2Err, func(w http.ResponseWriter, dec ingest.Decoded) {
		if len(dec.Refused) == 0 {
			success(w)
			return
		}
		errs := make([]v2Error, 0, len(dec.Refused))
		for _, err := range dec.Refused {
			errs = append(errs, asV2(err))
		}
		failV2(w, http.StatusMultiStatus, errs...)
	})
}

// serve is auth → read → decode → append → answer, refusals written by
// fail.
func (a *API) serve(d ingest.Decoder, fail func(http.ResponseWriter, *http.Request, error), answer func(http.ResponseWriter, ingest.Decoded)) http.Handler {
	return a.Auth(func(w http.ResponseWriter, r *http.Request, src *cdp.Source) { a.serveAs(w, r, src, d, fail, answer) })
}

// serveAs serves a request of the authenticated source src.
func (a *API) serveAs(w http.ResponseWriter, r *http.Request, src *cdp.Source, d ingest.Decoder, fail func(http.ResponseWriter, *http.Request, error), answer func(http.ResponseWriter, ingest.Decoded)) {
	body, err := httpx.ReadBody(w, r, a.maxBody)
	if err != nil {
		a.in.Rejected(src.ID, 1)
		fail(w, r, err)
		return
	}
	dec, err := d(r, body, src)
	if err != nil {
		a.in.Rejected(src.ID, 1)
		fail(w, r, err)
		return
	}
	if len(dec.Refused) > 0 {
		a.in.Rejected(src.ID, len(dec.Refused))
	}
	if len(dec.Events) > 0 {
		if _, err := a.in.Append(r.Context(), src, dec.Events...); err != nil {
			fail(w, r, err)
			return
		}
	}
	answer(w, dec)
}

// failV2Err writes an error in v2's envelope.
func (a *API) failV2Err(w http.ResponseWriter, r *http.Request, err error) {
	var v *v2Error
	var batch batchErrors
	var blocked *ingest.Blocked
	switch {
	case errors.As(err, &blocked):
		var errs []v2Error
		for _, e := range blocked.Events {
			for _, viol := range e.Violations {
				errs = append(errs, v2Error{Reason: "invalid", Field: strings.ReplaceAll(strings.TrimPrefix(viol.Path, "/"), "/", "."),
					Message: fmt.Sprintf("event %q breaks tracking plan %s: %s", e.Type, viol.Plan, viol.Message)})
			}
		}
		failV2(w, http.StatusBadRequest, errs...)
		return
	case errors.As(err, &batch):
		errs := make([]v2Error, 0, len(batch))
		for _, err := range batch {
			errs = append(errs, asV2(err))
		}
		failV2(w, http.StatusBadRequest, errs...)
		return
	case errors.As(err, &v):
		status := http.StatusBadRequest
		if v.Reason == "too_large" {
			status = http.StatusRequestEntityTooLarge
		}
		failV2(w, status, *v)
		return
	}
	status := httpx.Status(cdp.ErrorCode(err))
	if status >= 500 {
		a.log.Error("track api failed", "path", r.URL.Path, "err", err)
	}
	reason := "invalid"
	switch status {
	case http.StatusRequestEntityTooLarge:
		reason = "too_large"
	case http.StatusServiceUnavailable:
		reason = "unavailable"
	}
	failV2(w, status, v2Error{Reason: reason, Message: cdp.ErrorMessage(err)})
}

// asV2 is err as a v2 error entry.
func asV2(err error) v2Error {
	var v *v2Error
	if errors.As(err, &v) {
		return *v
	}
	return v2Error{Reason: "invalid", Message: cdp.ErrorMessage(err)}
}

// events is a decoded request of events.
func events(es ...*cdp.Event) ingest.Decoded { return ingest.Decoded{Events: es} }
