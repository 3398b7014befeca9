// Package redact decides what must never be shown or stored in clear:
// credentials in headers, query parameters and known secret values, in
// captured requests inbound and outbound and in the run log.
package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

// Mask replaces a redacted value.
const Mask = "[redacted]"

// secretWords are the name fragments that mark a credential, in a header,
// a query parameter or a field of a step's input.
var secretWords = []string{"auth", "cookie", "signature", "token", "secret", "key", "password", "passwd", "credential"}

// notSecret are names that contain a secret word but carry none.
var notSecret = map[string]bool{"idempotency-key": true, "idempotency_key": true}

// SecretName reports whether a header, query parameter or field named
// name carries a credential: any auth (Authorization, X-Auth-Key),
// cookie, signature, token, secret, key, password or credential name.
func SecretName(name string) bool {
	name = strings.ToLower(name)
	if notSecret[name] {
		return false
	}
	for _, s := range secretWords {
		if strings.Contains(name, s) {
			return true
		}
	}
	return name == "sig" || name == "pass" || name == "pwd"
}

// SecretHeader is SecretName for a header.
func SecretHeader(name string) bool { return SecretName(name) }

// Values replaces every occurrence of the non-empty secrets in s.
func Values(s string, secrets ...string) string {
	for _, v := range secrets {
		if len(v) >= 4 { // shorter values would mask ordinary text
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// Bytes is Values for a byte slice; it returns b itself when no secret
// occurs in it.
func Bytes(b []byte, secrets ...string) []byte {
	for _, v := range secrets {
		if len(v) >= 4 && bytes.Contains(b, []byte(v)) {
			b = bytes.ReplaceAll(b, []byte(v), []byte(Mask))
		}
	}
	return b
}

// Query masks the values of credential-like parameters (api_key, token,
// signature, …) in a request URI's query.
func Query(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	parts := strings.Split(query, "&")
	changed := false
	for i, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil && SecretName(n) {
			parts[i], changed = name+"="+url.QueryEscape(Mask), true
		}
	}
	if !changed {
		return uri
	}
	return path + "?" + strings.Join(parts, "&")
}

// QuerySecrets returns the values of a URI's credential-like query
// parameters, as sent and unescaped, so that a response or an error that
// echoes them is masked too.
func QuerySecrets(uri string) []string {
	_, query, ok := strings.Cut(uri, "?")
	if !ok {
		return nil
	}
	query, _, _ = strings.Cut(query, "#")
	var out []string
	for _, p := range strings.Split(query, "&") {
		name, value, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err != nil || !SecretName(n) || value == "" {
			continue
		}
		out = append(out, value)
		if v, err := url.QueryUnescape(value); err == nil && v != value {
			out = append(out, v)
		}
	}
	return out
}

// URLSecrets returns the password (and the user, which is a token for
// many services) of a URL's userinfo, to add to a destination's secrets,
// with the Basic credential an HTTP client derives from them: a
// destination that echoes the request's headers shows that one.
func URLSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return nil
	}
	user := u.User.Username()
	out := []string{user}
	p, ok := u.User.Password()
	if ok {
		out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
	}
	return append(out, base64.StdEncoding.EncodeToString([]byte(user+":"+p)))
}

// Body is a captured request or response body as shown: the known
// secrets masked by value and, in a JSON document, the credential-like
// fields and query parameters masked by name.
func Body(b []byte, secrets ...string) string {
	return string(JSONFields(Bytes(b, secrets...)))
}

// HeaderSecrets returns the values of h's credential headers, so that a
// response that echoes them (or an error that quotes them) is masked too.
func HeaderSecrets(h map[string][]string) []string {
	var out []string
	for k, vs := range h {
		if SecretHeader(k) {
			out = append(out, vs...)
		}
	}
	return out
}

// JSONFields masks the values of credential-like fields (headers.Authorization,
// api_key, …) at any depth of a JSON document, for showing a step's
// evaluated input: the run record keeps it in clear because a retry sends
// the same request, but no answer shows it.
func JSONFields(doc json.RawMessage) json.RawMessage {
	if len(doc) == 0 || !bytes.ContainsAny(doc, ":?") {
		return doc
	}
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return doc
	}
	v, changed := maskFields(v)
	if !changed {
		return doc
	}
	out, err := json.Marshal(v)
	if err != nil {
		return doc
	}
	return out
}

// JSONSecrets returns the string values of a JSON document's
// credential-like fields and query parameters, so that where they
// reappear (a response that echoes a request's headers) they can be
// masked by value.
func JSONSecrets(doc json.RawMessage) []string {
	var v any
	if len(doc) == 0 || json.Unmarshal(doc, &v) != nil {
		return nil
	}
	var out []string
	var walk func(v any, secret bool)
	walk = func(v any, secret bool) {
		switch v := v.(type) {
		case string:
			if secret {
				out = append(out, v)
			} else {
				out = append(out, QuerySecrets(v)...)
			}
		case map[string]any:
			for k, x := range v {
				walk(x, secret || SecretName(k))
			}
		case []any:
			for _, x := range v {
				walk(x, secret)
			}
		}
	}
	walk(v, false)
	return out
}

// Fields returns a copy of a step's input map with credential-like
// fields masked, for a dry run to show.
func Fields(in map[string]any) map[string]any {
	data, err := json.Marshal(in)
	if err != nil {
		return in
	}
	var out map[string]any
	if json.Unmarshal(JSONFields(data), &out) != nil {
		return in
	}
	return out
}

// maskFields masks, in place, the credential-like fields of a decoded
// JSON document and the credential-like query parameters of its strings
// (a URL written into a step's input). It returns v, or the masked string
// that replaces it, and whether anything changed.
func maskFields(v any) (any, bool) {
	changed := false
	switch v := v.(type) {
	case string:
		q := Query(v)
		return q, q != v
	case map[string]any:
		for k, x := range v {
			if _, isObject := x.(map[string]any); SecretName(k) && !isObject {
				v[k], changed = Mask, true
			} else if m, ok := maskFields(x); ok {
				v[k], changed = m, true
			}
		}
	case []any:
		for i, x := range v {
			if m, ok := maskFields(x); ok {
				v[i], changed = m, true
			}
		}
	}
	return v, changed
}
