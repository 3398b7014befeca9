package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/redact"
)

// Audit records in the audit trail every change made through the
// management API (and the console's sign-ins): who, when, the route and
// what it acted on, how it ended and a summary of the change with every
// secret-looking value masked.
type Audit struct {
	Store cdp.AuditStore
	Log   *slog.Logger
	// SecretKeys are field names whose values are secrets wherever they
	// appear (the destination kinds' secret settings), besides the names
	// that say so themselves (…secret…, …token…, …password…, …key…).
	SecretKeys []string
}

// Bounds of what an entry keeps of a request.
const (
	auditBody    = 64 << 10 // read of a body for its summary
	auditSummary = 8 << 10  // a summary longer than this keeps only its keys
)

// Wrap records each change (a request other than GET or HEAD), once h
// has answered it, refused or not. It sits behind auth.Authenticate:
// unauthenticated requests never reach it (anyone on the internet could
// fill the trail).
func (a *Audit) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		p := auth.PrincipalFrom(r.Context())
		body := &teeBody{r: r.Body}
		r.Body = body
		rec := httpx.NewStatusRecorder(w)
		h.ServeHTTP(rec, r)
		if len(body.seen) == 0 { // refused before it was read
			body.seen, _ = io.ReadAll(io.LimitReader(body.r, auditBody))
		}
		a.Record(r.Context(), r, p.Actor(), r.Pattern, strings.TrimPrefix(r.URL.Path, "/admin/v1/"), rec.Status,
			a.summary(r.Header.Get("Content-Type"), r.URL.RawQuery, body.seen))
	})
}

// Record writes an entry; a failure is logged (the change it records has
// been made).
func (a *Audit) Record(ctx context.Context, r *http.Request, actor, action, target string, status int, summary json.RawMessage) {
	e := &cdp.AuditEntry{ID: cdp.NewID(), At: time.Now().UTC(), Actor: actor, Action: action, Target: target, Status: status,
		Summary: summary, RemoteAddr: httpx.ClientIP(r).String()}
	if err := a.Store.InsertAudit(context.WithoutCancel(ctx), e); err != nil {
		a.Log.Error("audit: record a change", "actor", actor, "action", action, "target", target, "err", err)
	}
}

// summary is a change's body (JSON or YAML) and query with every secret
// masked, or nil when there is neither.
func (a *Audit) summary(contentType, query string, body []byte) json.RawMessage {
	out := map[string]any{}
	if q, err := url.ParseQuery(query); err == nil && len(q) > 0 {
		masked := map[string]any{}
		for k, vs := range q {
			masked[k] = a.mask(k, strings.Join(vs, ","))
		}
		out["query"] = masked
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var v any
		err := json.Unmarshal(body, &v)
		if err != nil && strings.Contains(contentType, "yaml") {
			err = yaml.Unmarshal(body, &v)
		}
		_, isMap := v.(map[string]any)
		_, isList := v.([]any)
		if err == nil && (isMap || isList) {
			out["body"] = a.mask("", v)
		} else { // not a JSON or YAML document: its size, not its content
			out["body_bytes"] = len(body)
		}
	}
	if len(out) == 0 {
		return nil
	}
	b, err := json.Marshal(out)
	if err != nil || len(b) > auditSummary {
		keys := []string{}
		if m, ok := out["body"].(map[string]any); ok {
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
		}
		b, _ = json.Marshal(map[string]any{"truncated": true, "body_keys": keys})
	}
	return b
}

// mask returns v, the value of field key, with the values of secret
// fields (at any depth) replaced by redact.Mask.
func (a *Audit) mask(key string, v any) any {
	if a.secret(key) {
		if s, ok := v.(string); ok && s == "" {
			return s
		}
		return redact.Mask
	}
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = a.mask(k, x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = a.mask("", x)
		}
		return out
	}
	return v
}

// secretWords are parts of field names that hold secrets.
var secretWords = []string{"secret", "token", "password", "passwd", "key", "authorization", "credential", "cookie"}

func (a *Audit) secret(key string) bool {
	k := strings.ToLower(key)
	if k == "" {
		return false
	}
	if slices.Contains(a.SecretKeys, k) {
		return true
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// teeBody keeps the first auditBody bytes read through it.
type teeBody struct {
	r    io.ReadCloser
	seen []byte
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if room := auditBody - len(t.seen); room > 0 {
		t.seen = append(t.seen, p[:min(n, room)]...)
	}
	return n, err
}

func (t *teeBody) Close() error { return t.r.Close() }

// ListAudit serves GET /admin/v1/audit?actor=&target=&since=&until=&limit=&cursor=.
func ListAudit(log *slog.Logger, store cdp.AuditStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := cdp.AuditFilter{Actor: q.Get("actor"), Target: strings.Trim(q.Get("target"), "/"), Cursor: q.Get("cursor")}
		var err error
		if f.Since, err = optionalTime("since", q.Get("since")); err == nil {
			f.Until, err = optionalTime("until", q.Get("until"))
		}
		if s := q.Get("limit"); err == nil && s != "" {
			if f.Limit, err = strconv.Atoi(s); err != nil || f.Limit < 1 || f.Limit > 1000 {
				err = cdp.Errorf(cdp.EINVALID, "limit must be an integer from 1 to 1000, not %q", s)
			}
		}
		var entries []*cdp.AuditEntry
		var next string
		if err == nil {
			entries, next, err = store.FindAudit(r.Context(), f)
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		if entries == nil {
			entries = []*cdp.AuditEntry{}
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"entries": entries, "next_cursor": next})
	})
}
