package httpx

import (
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/redact"
)

// Capture records the request h serves (method, path, headers with secrets
// redacted, and up to limit bytes of the body as the handler reads it) in
// its context, where the ingest service finds it and keeps it with the
// events the request appends. The body is recorded as it arrives on the
// wire, whatever the handler does with it.
func Capture(limit int, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := &cdp.RawRequest{Method: r.Method, Path: redact.Query(r.URL.RequestURI()), RemoteAddr: r.RemoteAddr,
			Header: headerLines(r.Header, r.Host), ReceivedAt: time.Now().UTC()}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &teeBody{ReadCloser: r.Body, raw: raw, limit: limit, size: r.ContentLength}
		}
		h.ServeHTTP(w, r.WithContext(cdp.WithRawRequest(r.Context(), raw)))
	})
}

// MaxHeaderBytes caps the captured headers: the server accepts up to a
// megabyte of them, which a 52-byte request could make every stored
// request carry.
const MaxHeaderBytes = 16 << 10

// HeaderTruncated is the line that ends headers cut at MaxHeaderBytes.
const HeaderTruncated = "X-Switchyard-Capture: headers truncated"

// headerLines renders the headers as sorted "Name: value" lines, secrets
// redacted, with Host first, cut at MaxHeaderBytes.
func headerLines(h http.Header, host string) string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString("Host: ")
	b.WriteString(host)
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			if redact.SecretHeader(k) {
				v = redact.Mask
			}
			if b.Len()+len(k)+len(v)+3 > MaxHeaderBytes {
				b.WriteString("\n" + HeaderTruncated)
				return b.String()
			}
			b.WriteString("\n")
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(v)
		}
	}
	return b.String()
}

// teeBody copies what the handler reads into the captured request.
type teeBody struct {
	io.ReadCloser
	raw   *cdp.RawRequest
	limit int
	size  int64 // Content-Length, or -1: the copy's first allocation
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.raw.BodySize += int64(n)
	if keep := min(n, t.limit-len(t.raw.Body)); keep > 0 {
		if t.raw.Body == nil && t.size > 0 {
			t.raw.Body = make([]byte, 0, min(Presize(t.size), t.limit))
		}
		t.raw.Body = append(t.raw.Body, p[:keep]...)
	}
	t.raw.Truncated = t.raw.BodySize > int64(len(t.raw.Body))
	return n, err
}
