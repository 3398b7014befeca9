// Package httpx holds what every HTTP API shares: JSON encoding, capped
// body reading, the management error dialect, CORS and recovery. Each
// compatible API renders errors in its own dialect on top of these.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// WriteJSON writes v as the JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"cannot encode response"}}`)
	}
	if !utf8.Valid(body) {
		// Raw JSON echoed from a request (an error's "input") may hold
		// bytes that are not UTF-8 inside its strings; Marshal keeps them.
		body = bytes.ToValidUTF8(body, []byte(`\uFFFD`))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ReadBody reads the whole request body, refusing more than limit bytes
// with an ETOOLARGE error.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, cdp.Errorf(cdp.ETOOLARGE, "request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	body, err := ReadAll(http.MaxBytesReader(w, r.Body, limit), r.ContentLength)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, cdp.Errorf(cdp.ETOOLARGE, "request body exceeds the limit of %d bytes", limit)
	}
	if err != nil {
		return nil, cdp.Errorf(cdp.EINVALID, "cannot read request body: %v", err)
	}
	return body, nil
}

// ReadAll is io.ReadAll into a buffer sized for a body of size bytes (the
// request's Content-Length, or below zero when unknown), so a batch is
// read into one allocation instead of a dozen doublings. The first
// allocation stops at PresizeCap: a client announcing a large body and
// sending it slowly must not hold memory it has not sent.
func ReadAll(r io.Reader, size int64) ([]byte, error) {
	if size >= 0 {
		size++ // room for the read that finds the end
	}
	b := make([]byte, 0, Presize(size))
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// PresizeCap bounds the buffer allocated ahead of the bytes that fill it.
const PresizeCap = 64 << 10

// Presize is the capacity to allocate for size bytes yet to arrive (512
// when the size is unknown, below zero).
func Presize(size int64) int {
	if size < 0 {
		return 512
	}
	return int(min(size, PresizeCap))
}

// Status maps an application error code to the HTTP status used by the
// management API (and by default in the other dialects).
func Status(code string) int {
	switch code {
	case cdp.EINVALID:
		return http.StatusBadRequest
	case cdp.ENOTFOUND:
		return http.StatusNotFound
	case cdp.ECONFLICT:
		return http.StatusConflict
	case cdp.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case cdp.EFORBIDDEN:
		return http.StatusForbidden
	case cdp.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case cdp.ERATELIMIT:
		return http.StatusTooManyRequests
	case cdp.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Error writes err in the management dialect,
// {"error":{"code":"...","message":"..."}}, logging internal errors only.
func Error(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := cdp.ErrorCode(err)
	if code == cdp.EINTERNAL || code == cdp.EUNAVAILABLE {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteJSON(w, Status(code), map[string]any{"error": map[string]string{"code": code, "message": cdp.ErrorMessage(err)}})
}

// CORS lets browsers call h from any origin (the tracker and Customer.io's
// browser SDK send from customers' sites, without credentials).
func CORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h.ServeHTTP(w, r)
	})
}

// Preflight answers CORS preflight requests for the browser paths. It
// allows the headers the browser asks for, which covers the Tracardi
// tracker's content-type and x-timestamp.
func Preflight() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS")
		allowed := "content-type, x-timestamp"
		if req := strings.TrimSpace(r.Header.Get("Access-Control-Request-Headers")); req != "" {
			allowed = req
		}
		h.Set("Access-Control-Allow-Headers", allowed)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}

// Recover turns a panic in h into a logged 500 JSON response.
func Recover(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v)
				WriteJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]string{"code": cdp.EINTERNAL, "message": "internal error"}})
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// UnixSeconds reads the Unix timestamp name, in seconds, given as a
// number or a numeric string, as Customer.io's APIs and webhooks send
// them. Absent, null, non-numeric and non-positive values give the zero
// time (the caller's default, as before); a value past the year 9999 is an
// error for the client (usually milliseconds sent as seconds), since no
// such time can be stored or shown.
func UnixSeconds(name string, raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return time.Time{}, nil
		}
		n = json.Number(s)
	}
	f, err := n.Float64()
	if err != nil || f <= 0 {
		return time.Time{}, nil
	}
	if f >= maxUnixSeconds {
		return time.Time{}, cdp.Errorf(cdp.EINVALID, "%s %s is after the year 9999: it must be a Unix time in seconds, not milliseconds", name, n)
	}
	return time.Unix(int64(f), 0).UTC(), nil
}

// maxUnixSeconds is 10000-01-01T00:00:00Z, the first instant JSON cannot
// carry as a time.
const maxUnixSeconds = 253402300800

// Shed refuses requests to h while overloaded says so, before h reads
// the body: it sets Retry-After and lets refuse write the answer in the
// API's dialect. route names the route to overloaded (for its metrics).
func Shed(overloaded func(route string) (retryAfter string, over bool), route string, refuse func(w http.ResponseWriter, r *http.Request), h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if retryAfter, over := overloaded(route); over {
			w.Header().Set("Retry-After", retryAfter)
			// Browser paths are CORS'ed inside h; a refusal must be
			// readable by the page too.
			w.Header().Set("Access-Control-Allow-Origin", "*")
			// The body is not read: close the connection rather than
			// drain a large one on a keep-alive connection.
			if r.ContentLength != 0 {
				w.Header().Set("Connection", "close")
			}
			refuse(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Overloaded is the message of a request refused for the backlog or for
// a full disk.
const Overloaded = "Switchyard cannot take more events now (more are waiting than it can store in time, or its disk is nearly full); retry after the number of seconds in Retry-After"
