package customerio

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// Data Pipelines limits (Customer.io's documentation).
const (
	maxMessageBytes      = 32 << 10
	maxPipelineBatchSize = 500 << 10
)

// message is one Data Pipelines call, camelCase on the wire.
type message struct {
	Type              string          `json:"type"`
	UserID            string          `json:"userId"`
	AnonymousID       string          `json:"anonymousId"`
	MessageID         string          `json:"messageId"`
	Timestamp         string          `json:"timestamp"`
	OriginalTimestamp string          `json:"originalTimestamp"`
	Context           json.RawMessage `json:"context"`
	Integrations      json.RawMessage `json:"integrations"`
	Event             string          `json:"event"`
	Properties        json.RawMessage `json:"properties"`
	Traits            json.RawMessage `json:"traits"`
	Name              string          `json:"name"`
	GroupID           string          `json:"groupId"`
	PreviousID        string          `json:"previousId"`
	WriteKey          string          `json:"writeKey"`
}

// batchBody is /v1/batch's body; its context and integrations apply to
// every message.
type batchBody struct {
	Batch        []json.RawMessage `json:"batch"`
	Context      json.RawMessage   `json:"context"`
	Integrations json.RawMessage   `json:"integrations"`
	WriteKey     string            `json:"writeKey"`
}

// ServePipelines serves POST /v1/{typ} (typ "batch" for /v1/batch). As
// Customer.io does, it answers 200 even to invalid or oversized input,
// dropping it, unless the caller sends X-Strict-Mode: 1, which turns
// problems into 400 {"meta":{"errors":[…]}}. The browser paths
// (/v1/t, /v1/i, … /v1/b) carry the write key in a text/plain JSON body,
// so the request is split into its messages before it is authenticated.
func (a *API) ServePipelines(typ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		strict := r.Header.Get("X-Strict-Mode") == "1"
		limit := pipelinesLimit(typ, a.maxBody)
		body, err := httpx.ReadBody(w, r, limit)
		if cdp.ErrorCode(err) == cdp.ETOOLARGE {
			err = cdp.Errorf(cdp.ETOOLARGE, "request exceeds %dKB", limit>>10) // as Customer.io words it
		}
		if err == nil {
			body, err = inflate(r, body, limit)
		}
		if err != nil {
			// Too large or unreadable: the write key is unknown, so only
			// strict callers learn about it (Customer.io answers 200).
			a.in.Rejected("", 1)
			a.dropped(w, strict, "", cdp.ErrorMessage(err))
			return
		}
		split, err := splitRequest(typ, body)
		src, ok := a.pipelinesSource(r, split.writeKey)
		if !ok {
			a.in.Rejected("", 1)
			fail(w, http.StatusUnauthorized, "Unauthorized request")
			return
		}
		if wait, ok := a.in.Allow(src); !ok {
			w.Header().Set("Retry-After", wait)
			fail(w, http.StatusTooManyRequests, "rate limit exceeded")
			return
		}
		if err != nil {
			a.in.Rejected(src.ID, 1)
			a.dropped(w, strict, src.ID, cdp.ErrorMessage(err))
			return
		}
		dec := decodeMessages(r, typ, split)
		if n := len(dec.Refused); n > 0 {
			a.in.Rejected(src.ID, n)
			if strict {
				problems := make([]string, n)
				for i, err := range dec.Refused {
					problems[i] = err.Error()
				}
				httpx400(w, problems)
				return
			}
			a.noteDropped(src.ID, dec.Refused[0].Error(), n)
		}
		if len(dec.Events) > 0 {
			var blocked *ingest.Blocked
			_, err := a.in.Append(r.Context(), src, dec.Events...)
			switch {
			case errors.As(err, &blocked):
				// A tracking plan in block mode: the strict answer, strict
				// or not, since the plan's owner asked for the refusal.
				httpx400(w, blocked.Problems())
				return
			case err != nil:
				a.failErr(w, r, err)
				return
			}
		}
		success(w)
	})
}

// Pipelines decodes POST /v1/{typ}: its messages' events, and the
// messages refused.
func (a *API) Pipelines(typ string) ingest.Decoder {
	return func(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
		body, err := inflate(r, body, pipelinesLimit(typ, a.maxBody))
		if err != nil {
			return ingest.Decoded{}, err
		}
		split, err := splitRequest(typ, body)
		if err != nil {
			return ingest.Decoded{}, err
		}
		return decodeMessages(r, typ, split), nil
	}
}

// pipelinesLimit is the largest body a call of typ may have.
func pipelinesLimit(typ string, maxBody int64) int64 {
	if typ == "batch" {
		return min(maxPipelineBatchSize, maxBody)
	}
	return min(maxMessageBytes, maxBody)
}

// messages are a request's calls, the context its batch gives them, and
// the write key its body carries.
type messages struct {
	raws     []json.RawMessage
	batch    batchContext
	writeKey string
}

// inflate inflates a gzip body, to at most limit bytes (no zip bombs).
func inflate(r *http.Request, body []byte, limit int64) ([]byte, error) {
	if !strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, invalid("invalid gzip body")
	}
	defer zr.Close()
	if body, err = httpx.ReadAll(io.LimitReader(zr, limit+1), -1); err != nil {
		return nil, invalid("cannot read the request body")
	}
	if int64(len(body)) > limit {
		return nil, cdp.Errorf(cdp.ETOOLARGE, "request exceeds %dKB", limit>>10)
	}
	return body, nil
}

// splitRequest splits a body into its messages.
func splitRequest(typ string, body []byte) (messages, error) {
	raws, ctx, key, err := splitMessages(typ, body)
	if err != nil {
		return messages{writeKey: key}, invalid(err.Error())
	}
	return messages{raws: raws, batch: ctx, writeKey: key}, nil
}

// decodeMessages decodes each call; a call that is not valid is refused,
// named by its place in a batch.
func decodeMessages(r *http.Request, typ string, m messages) ingest.Decoded {
	var dec ingest.Decoded
	for i, raw := range m.raws {
		e, msg := pipelineEvent(r, typ, raw, m.batch)
		if msg == "" {
			if err := ingest.CheckEvent(e); err != nil {
				msg = cdp.ErrorMessage(err)
			}
		}
		if msg != "" {
			if typ == "batch" {
				msg = fmt.Sprintf("batch[%d]: %s", i, msg)
			}
			dec.Refused = append(dec.Refused, errors.New(msg))
			continue
		}
		dec.Events = append(dec.Events, e)
	}
	return dec
}

// dropped answers input that cannot be accepted: 200 (dropped) by
// default, 400 in strict mode.
func (a *API) dropped(w http.ResponseWriter, strict bool, sourceID, msg string) {
	if strict {
		httpx400(w, []string{msg})
		return
	}
	a.noteDropped(sourceID, msg, 1)
	success(w)
}

// noteDropped logs messages dropped behind a 200, so that a client whose
// every call is silently dropped shows up somewhere: one line at most
// every 10 s, with the latest reason and how many were dropped since.
func (a *API) noteDropped(sourceID, reason string, n int) {
	a.drops.Add(int64(n))
	a.dropLog.Do(func() {
		a.log.Warn("data pipelines input dropped with a 200, as Customer.io does (X-Strict-Mode: 1 makes it a 400)",
			"source", sourceID, "reason", reason, "dropped", a.drops.Swap(0))
	})
}

func httpx400(w http.ResponseWriter, problems []string) {
	httpx.WriteJSON(w, http.StatusBadRequest, map[string]any{"meta": map[string]any{"errors": problems}})
}

// pipelinesSource authenticates Basic writeKey: or, on the browser paths,
// the body's writeKey.
func (a *API) pipelinesSource(r *http.Request, bodyKey string) (*cdp.Source, bool) {
	user, pass, ok := basicAuth(r)
	if !ok {
		user, pass = bodyKey, ""
	}
	src, found := a.sources.ByCredentials(cdp.SourceCustomerIOPipelines, user, pass)
	return src, found && src.Enabled
}

// splitMessages returns the messages of a request, the batch context and
// the write key found in the body.
func splitMessages(typ string, body []byte) ([]json.RawMessage, batchContext, string, error) {
	if typ != "batch" {
		var m struct {
			WriteKey string `json:"writeKey"`
		}
		if json.Unmarshal(body, &m) != nil || len(body) == 0 || body[0] != '{' {
			return nil, batchContext{}, "", errors.New("request body must be a JSON object")
		}
		return []json.RawMessage{body}, batchContext{}, m.WriteKey, nil
	}
	var b batchBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, batchContext{}, "", errors.New(`request body must be {"batch":[…]}`)
	}
	var ctx map[string]any
	_ = json.Unmarshal(b.Context, &ctx)
	var integrations map[string]any
	if json.Unmarshal(b.Integrations, &integrations) == nil && len(integrations) > 0 {
		if ctx == nil {
			ctx = map[string]any{}
		}
		ctx["integrations"] = integrations
	}
	bc := batchContext{fields: ctx}
	if len(ctx) > 0 {
		bc.encoded, _ = json.Marshal(ctx)
	}
	return b.Batch, bc, b.WriteKey, nil
}

// batchContext is the context a batch gives each of its calls, decoded to
// merge with a call's own, and encoded once for the calls without one.
type batchContext struct {
	fields  map[string]any
	encoded json.RawMessage
}

// callContext is the event's context: the call's own, over the batch's,
// with the integrations (per-destination switches) of both, the call's
// overriding the batch's key by key. A single call's context, the common
// case, is kept as the client sent it, without a decode and re-encode.
func callContext(m message, batch batchContext) (json.RawMessage, string) {
	own := bytes.TrimSpace(m.Context)
	if len(own) > 0 && own[0] != '{' && string(own) != "null" {
		return nil, "context must be an object"
	}
	batchCtx := batch.fields
	if len(batchCtx) > 0 && isEmptyJSON(own) && isEmptyJSON(m.Integrations) {
		return batch.encoded, ""
	}
	if len(batchCtx) == 0 && isEmptyJSON(m.Integrations) {
		if len(own) == 0 || string(own) == "null" {
			return json.RawMessage(`{}`), ""
		}
		var buf bytes.Buffer
		if json.Compact(&buf, own) != nil {
			return nil, "context must be an object"
		}
		return buf.Bytes(), ""
	}
	ctx := map[string]any{}
	maps.Copy(ctx, batchCtx)
	var decoded map[string]any
	if len(own) > 0 && json.Unmarshal(own, &decoded) != nil && string(own) != "null" {
		return nil, "context must be an object"
	}
	maps.Copy(ctx, decoded)
	var integ map[string]any
	if json.Unmarshal(m.Integrations, &integ) == nil && len(integ) > 0 {
		merged := map[string]any{}
		if batch, ok := batchCtx["integrations"].(map[string]any); ok {
			maps.Copy(merged, batch)
		}
		maps.Copy(merged, integ)
		ctx["integrations"] = merged
	}
	out, _ := json.Marshal(ctx)
	return out, ""
}

// isEmptyJSON reports whether v is absent, null or an empty object.
func isEmptyJSON(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return true
	}
	var m map[string]json.RawMessage
	return json.Unmarshal(v, &m) != nil || len(m) == 0
}

// userAgent is the context's userAgent, when it is a non-empty string.
func userAgent(ctx json.RawMessage) string {
	if !bytes.Contains(ctx, []byte(`"userAgent"`)) {
		return ""
	}
	var c struct {
		UserAgent json.RawMessage `json:"userAgent"`
	}
	var ua string
	if json.Unmarshal(ctx, &c) != nil || json.Unmarshal(c.UserAgent, &ua) != nil {
		return ""
	}
	return ua
}

// pipelineEvent validates one message and maps it to an event:
// camelCase in, the canonical event out.
func pipelineEvent(r *http.Request, endpoint string, raw json.RawMessage, batchCtx batchContext) (*cdp.Event, string) {
	if len(raw) > maxMessageBytes {
		return nil, "message exceeds 32KB"
	}
	var m message
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, "message must be a JSON object with string ids"
	}
	typ := m.Type
	if endpoint != "batch" {
		typ = endpoint
	}
	if m.UserID == "" && m.AnonymousID == "" {
		return nil, "userId or anonymousId is required"
	}
	e := &cdp.Event{UserID: m.UserID, AnonymousID: m.AnonymousID, MessageID: m.MessageID,
		Properties: json.RawMessage(`{}`), UserAgent: r.Header.Get("User-Agent")}
	var msg string
	if e.Context, msg = callContext(m, batchCtx); msg != "" {
		return nil, msg
	}
	if ua := userAgent(e.Context); ua != "" {
		e.UserAgent = ua
	}
	if msg := messageTimes(e, m); msg != "" {
		return nil, msg
	}
	if m.UserID != "" {
		e.Identifiers = append(e.Identifiers, cdp.Identifier{Kind: cdp.IdentifierID, Value: m.UserID})
	}
	if m.AnonymousID != "" {
		e.Identifiers = append(e.Identifiers, cdp.Identifier{Kind: cdp.IdentifierAnonymousID, Value: m.AnonymousID})
	}
	props, ok := object(m.Properties)
	if !ok {
		return nil, "properties must be an object"
	}
	traits, ok := object(m.Traits)
	if !ok {
		return nil, "traits must be an object"
	}
	if msg := ofType(e, typ, m, props, traits); msg != "" {
		return nil, msg
	}
	return e, ""
}

// messageTimes sets the event's time from the message's timestamp, or its
// originalTimestamp when it has none, and keeps the latter as sent.
func messageTimes(e *cdp.Event, m message) string {
	for _, ts := range []string{m.Timestamp, m.OriginalTimestamp} {
		if ts == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !cdp.ValidTime(t) {
			return "timestamp must be an ISO-8601 date-time between the years 0000 and 9999"
		}
		e.Timestamp = t.UTC()
		break
	}
	if m.OriginalTimestamp != "" {
		if t, err := time.Parse(time.RFC3339Nano, m.OriginalTimestamp); err == nil && cdp.ValidTime(t) {
			t = t.UTC()
			e.OriginalTimestamp = &t
		}
	}
	return ""
}

// ofType fills in what the call's type makes of the message: the event's
// type, operation and properties, or the problem that refuses it.
func ofType(e *cdp.Event, typ string, m message, props, traits json.RawMessage) string {
	switch typ {
	case "identify":
		e.Type, e.Op, e.Traits = "identify", cdp.OpIdentify, traits
		var t struct{ Email string }
		if json.Unmarshal(traits, &t) == nil && strings.TrimSpace(t.Email) != "" {
			e.Identifiers = append(e.Identifiers, cdp.Identifier{Kind: cdp.IdentifierEmail, Value: strings.ToLower(strings.TrimSpace(t.Email))})
		}
	case "track":
		if strings.TrimSpace(m.Event) == "" {
			return "event is required"
		}
		e.Type, e.Properties = strings.TrimSpace(m.Event), props
		return semanticEvent(e, m)
	case "page", "screen":
		e.Type, e.Properties = typ, withName(props, m.Name)
	case "group":
		if m.GroupID == "" {
			return "groupId is required"
		}
		e.Type = "group"
		e.Properties, _ = json.Marshal(map[string]any{"group_id": m.GroupID, "traits": json.RawMessage(traits)})
	case "alias":
		if m.PreviousID == "" || m.UserID == "" {
			return "previousId and userId are required"
		}
		e.Type, e.Op = "alias", cdp.OpAlias
		e.Identifiers = []cdp.Identifier{{Kind: cdp.IdentifierID, Value: m.UserID}}
		e.Properties, _ = json.Marshal(map[string]string{"previous_id": m.PreviousID})
	default:
		return "type must be one of identify, track, page, screen, group, alias"
	}
	return ""
}

// semanticEvent turns Customer.io's semantic events into operations.
func semanticEvent(e *cdp.Event, m message) string {
	person := []cdp.Identifier{{Kind: cdp.IdentifierID, Value: m.UserID}}
	switch e.Type {
	case "User Deleted":
		e.Op, e.Ephemeral = cdp.OpDelete, true
	case "User Suppressed":
		e.Op = cdp.OpSuppress
	case "User Unsuppressed":
		e.Op = cdp.OpUnsuppress
	case "Device Created or Updated", "Device Deleted":
		var ctx struct {
			Device map[string]any `json:"device"`
		}
		_ = json.Unmarshal(e.Context, &ctx)
		dev := ctx.Device
		token, _ := dev["token"].(string)
		if token == "" {
			return "context.device.token is required"
		}
		d := cdp.Device{ID: token}
		d.Platform, _ = dev["type"].(string)
		e.Op = cdp.OpDeviceDelete
		if e.Type == "Device Created or Updated" {
			e.Op = cdp.OpDeviceAdd
		}
		// The client's properties stay as sent (they become the device's
		// attributes); the device the operation applies to is added.
		var props map[string]json.RawMessage
		_ = json.Unmarshal(e.Properties, &props) // an object: checked above
		if props == nil {
			props = map[string]json.RawMessage{}
		}
		props[cdp.DeviceProperty], _ = json.Marshal(d)
		e.Properties, _ = json.Marshal(props)
	default:
		return ""
	}
	if m.UserID == "" {
		return "userId is required for " + e.Type
	}
	e.Identifiers = person
	return ""
}

// object returns raw if it is a JSON object, {} if absent or null.
func object(raw json.RawMessage) (json.RawMessage, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`), true
	}
	return raw, raw[0] == '{'
}

// withName sets properties.name unless present.
func withName(props json.RawMessage, name string) json.RawMessage {
	if name == "" {
		return props
	}
	var m map[string]any
	_ = json.Unmarshal(props, &m)
	if m == nil {
		m = map[string]any{}
	}
	if _, ok := m["name"]; !ok {
		m["name"] = name
	}
	out, _ := json.Marshal(m)
	return out
}
