package customerio

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// Limits of the Track API, as Customer.io documents them.
const (
	maxIdentifierBytes = 150
	maxAttributes      = 300
	maxAttrNameBytes   = 150
	maxAttrValueBytes  = 1000
	maxEventNameBytes  = 100
	maxEventDataBytes  = 100000
)

// personIdentifier types a path identifier by its shape: a cio_
// prefix is a cio_id, an '@' an email, anything else an id.
func personIdentifier(raw string) (cdp.Identifier, string) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return cdp.Identifier{}, "customer identifier cannot be blank"
	case len(raw) > maxIdentifierBytes:
		return cdp.Identifier{}, "customer identifier cannot be longer than 150 bytes"
	case strings.HasPrefix(raw, "cio_") && len(raw) > 4:
		return cdp.Identifier{Kind: cdp.IdentifierCioID, Value: raw[4:]}, ""
	case strings.Contains(raw, "@"):
		return cdp.Identifier{Kind: cdp.IdentifierEmail, Value: strings.ToLower(raw)}, ""
	}
	return cdp.Identifier{Kind: cdp.IdentifierID, Value: raw}, ""
}

// pathPerson reads the person named by the {identifier} path segment.
func pathPerson(r *http.Request) (cdp.Identifier, error) {
	ident, msg := personIdentifier(r.PathValue("identifier"))
	if msg != "" {
		return ident, invalid(msg)
	}
	return ident, nil
}

// bodyObject reads a body as a JSON object; an empty or null body is {}.
func bodyObject(body []byte) (map[string]json.RawMessage, error) {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" || trimmed == "null" { // go-customerio sends null for nil attributes
		return map[string]json.RawMessage{}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, invalid("request body must be a JSON object")
	}
	return obj, nil
}

// baseEvent is what every Track API event shares.
func baseEvent(r *http.Request, typ, userID string) *cdp.Event {
	return &cdp.Event{Type: typ, UserID: userID, UserAgent: r.Header.Get("User-Agent"),
		Properties: json.RawMessage(`{}`), Context: json.RawMessage(`{}`)}
}

// Identify decodes PUT /api/v1/customers/{identifier}: create or
// update a person, their attributes becoming profile traits.
func (a *API) Identify(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	path, err := pathPerson(r)
	if err != nil {
		return ingest.Decoded{}, err
	}
	attrs, err := bodyObject(body)
	if err != nil {
		return ingest.Decoded{}, err
	}
	e, msg := identifyEvent(r, path, r.PathValue("identifier"), attrs)
	if msg != "" {
		return ingest.Decoded{}, invalid(msg)
	}
	return events(e), nil
}

// setTime dates e with the Unix seconds in raw, if it holds any.
func setTime(e *cdp.Event, raw json.RawMessage) error {
	t, err := httpx.UnixSeconds("timestamp", raw)
	if !t.IsZero() {
		e.Timestamp = t
	}
	return err
}

// identifyEvent builds the identify event of a person named by ident
// with attrs (v1 body, v2 attributes): body id, email and anonymous_id are
// attached as identifiers; _update never creates; _timestamp dates it.
func identifyEvent(r *http.Request, ident cdp.Identifier, userID string, attrs map[string]json.RawMessage) (*cdp.Event, string) {
	if msg := checkAttributes(attrs); msg != "" {
		return nil, msg
	}
	idents := []cdp.Identifier{ident}
	e := baseEvent(r, "identify", userID)
	e.Op = cdp.OpIdentify
	if raw, ok := attrs["id"]; ok {
		var id string
		switch {
		case json.Unmarshal(raw, &id) != nil:
			return nil, "id attribute must be a string value"
		case strings.TrimSpace(id) == "":
			return nil, "id attribute cannot be an empty string"
		}
		idents = append(idents, cdp.Identifier{Kind: cdp.IdentifierID, Value: strings.TrimSpace(id)})
	}
	if email := stringAttr(attrs, "email"); email != "" {
		idents = append(idents, cdp.Identifier{Kind: cdp.IdentifierEmail, Value: strings.ToLower(email)})
	}
	if anon := stringAttr(attrs, "anonymous_id"); anon != "" {
		idents = append(idents, cdp.Identifier{Kind: cdp.IdentifierAnonymousID, Value: anon})
		e.AnonymousID = anon
	}
	if string(attrs["_update"]) == "true" {
		e.Op = cdp.OpIdentifyExisting
	}
	if err := setTime(e, attrs["_timestamp"]); err != nil {
		return nil, strings.Replace(cdp.ErrorMessage(err), "timestamp", "_timestamp", 1)
	}
	traits := make(map[string]any, len(attrs))
	for k, raw := range attrs {
		if k == "_update" || k == "_timestamp" || k == "anonymous_id" {
			continue
		}
		var v any
		_ = json.Unmarshal(raw, &v)
		switch {
		case k == "unsubscribed":
			v = isTrue(v) // any case of true, 1 or "1"
		case strings.HasPrefix(k, "cio_subscription_preferences."):
			setPath(traits, strings.Split(k, "."), v) // dot notation → nested
			continue
		}
		if m, ok := v.(map[string]any); ok {
			if cur, ok := traits[k].(map[string]any); ok { // dotted keys of it came first
				mergeInto(cur, m)
				continue
			}
		}
		traits[k] = v
	}
	e.Traits, _ = json.Marshal(traits)
	e.Identifiers = idents
	return e, ""
}

// isTrue reports whether v means yes: true, 1 or "1", "true" in any case.
func isTrue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case float64:
		return x == 1
	case string:
		return x == "1" || strings.EqualFold(x, "true")
	}
	return false
}

// mergeInto merges src into dst, recursing into objects both have.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// setPath sets m[path[0]][path[1]]… = v, creating nested objects.
func setPath(m map[string]any, path []string, v any) {
	for _, key := range path[:len(path)-1] {
		next, ok := m[key].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[key] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// checkAttributes enforces the identify limits with their documented
// messages.
func checkAttributes(attrs map[string]json.RawMessage) string {
	if len(attrs) > maxAttributes {
		return "cannot identify more than 300 attributes in one request"
	}
	for name, raw := range attrs {
		if len(name) > maxAttrNameBytes {
			return "attribute name cannot be longer than 150 bytes"
		}
		size := len(raw)
		var s string
		if json.Unmarshal(raw, &s) == nil {
			size = len(s)
		}
		if size > maxAttrValueBytes {
			return "value for attribute '" + name + "' cannot be longer than 1000 bytes"
		}
	}
	return ""
}

func stringAttr(attrs map[string]json.RawMessage, key string) string {
	var s string
	if json.Unmarshal(attrs[key], &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

// Delete decodes DELETE /api/v1/customers/{identifier}: the person, their
// identifiers and their events are erased. The delete itself is not kept;
// its body, if any, is ignored ({} from node and python).
func (a *API) Delete(r *http.Request, _ []byte, _ *cdp.Source) (ingest.Decoded, error) {
	path, err := pathPerson(r)
	if err != nil {
		return ingest.Decoded{}, err
	}
	e := baseEvent(r, "delete", r.PathValue("identifier"))
	e.Op, e.Identifiers, e.Ephemeral = cdp.OpDelete, []cdp.Identifier{path}, true
	return events(e), nil
}

// Region serves GET /api/v1/accounts/region.
func (a *API) Region(w http.ResponseWriter, r *http.Request, _ *cdp.Source) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"url": scheme + "://" + r.Host, "region": "us", "environment_id": 1})
}
