// Package tracardi serves Tracardi's collector API: POST /track and GET|POST /collect/{type}/{source}[/{session}],
// with its request model, its 422/401 error bodies and its response, so
// that Tracardi's JavaScript tracker and SDKs work unchanged.
package tracardi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/ingest"
)

// payloadDTO is the tracker payload; fields are kept raw so that each can
// be validated with pydantic's strictness (ids must be strings).
type payloadDTO struct {
	Source     json.RawMessage `json:"source"`
	Session    json.RawMessage `json:"session"`
	Profile    json.RawMessage `json:"profile"`
	Context    json.RawMessage `json:"context"`
	Properties json.RawMessage `json:"properties"`
	Events     json.RawMessage `json:"events"`
	Options    json.RawMessage `json:"options"`
}

type eventDTO struct {
	ID         json.RawMessage `json:"id"`
	Type       json.RawMessage `json:"type"`
	Time       json.RawMessage `json:"time"`
	Properties json.RawMessage `json:"properties"`
	Context    json.RawMessage `json:"context"`
	Options    json.RawMessage `json:"options"`
	Tags       json.RawMessage `json:"tags"`
}

// payload is a validated tracker payload.
type payload struct {
	sourceID, sessionID, profileID string
	context, properties            json.RawMessage
	options                        options
	events                         []*cdp.Event
}

// decodePayload validates body like Tracardi's pydantic model and returns
// every problem found.
func decodePayload(body []byte) (*payload, []problem) {
	var dto payloadDTO
	if err := json.Unmarshal(body, &dto); err != nil {
		if json.Valid(body) { // valid JSON, but not an object
			return nil, []problem{{Type: "model_attributes_type", Loc: []any{"body"},
				Msg: "Input should be a valid dictionary or object to extract fields from", Input: body}}
		}
		return nil, []problem{jsonError(err)}
	}
	v := &validator{}
	p := &payload{}
	p.sourceID = v.entity(dto.Source, []any{"source"}, body, true)
	p.sessionID = v.entity(dto.Session, []any{"session"}, body, false)
	p.profileID = v.entity(dto.Profile, []any{"profile"}, body, false)
	p.context = v.object(dto.Context, []any{"context"})
	p.properties = v.object(dto.Properties, []any{"properties"})
	p.options = v.options(dto.Options, []any{"options"})
	var events []json.RawMessage
	if !isNull(dto.Events) {
		if kind(dto.Events) != '[' || json.Unmarshal(dto.Events, &events) != nil {
			v.add("list_type", []any{"events"}, "Input should be a valid list", dto.Events)
		}
	}
	for i, raw := range events {
		if e := v.event(raw, []any{"events", i}); e != nil {
			p.events = append(p.events, e)
		}
	}
	if len(v.problems) > 0 {
		return nil, v.problems
	}
	return p, nil
}

func (v *validator) event(raw json.RawMessage, loc []any) *cdp.Event {
	if kind(raw) != '{' {
		v.add("model_attributes_type", loc, "Input should be a valid dictionary or object to extract fields from", raw)
		return nil
	}
	var dto eventDTO
	_ = json.Unmarshal(raw, &dto)
	e := &cdp.Event{}
	e.MessageID, _ = v.str(dto.ID, at(loc, "id"))
	e.Type = v.eventType(dto.Type, at(loc, "type"), raw)
	t := v.eventTime(dto.Time, at(loc, "time"))
	if t.insert != nil {
		e.Timestamp = *t.insert
	}
	e.OriginalTimestamp = t.create
	e.Properties = v.object(dto.Properties, at(loc, "properties"))
	e.Context = v.object(dto.Context, at(loc, "context"))
	opts := v.options(dto.Options, at(loc, "options"))
	e.Ephemeral = !opts.on("save", true)
	if !isNull(dto.Tags) {
		var tags []any
		if kind(dto.Tags) != '[' || json.Unmarshal(dto.Tags, &tags) != nil {
			v.add("list_type", at(loc, "tags"), "Input should be a valid list", dto.Tags)
		}
		for _, t := range tags {
			if s, ok := t.(string); ok {
				e.Tags = append(e.Tags, s)
			} else {
				b, _ := json.Marshal(t)
				e.Tags = append(e.Tags, string(b))
			}
		}
	}
	return e
}

// response is Tracardi 0.8's tracker response plus the documented legacy
// source.consent (Tracardi's code).
type response struct {
	Task     string         `json:"task"`
	UX       []any          `json:"ux"`
	Response map[string]any `json:"response"`
	Events   []string       `json:"events"`
	Profile  ref            `json:"profile"`
	Session  ref            `json:"session"`
	Errors   []any          `json:"errors"`
	Warnings []any          `json:"warnings"`
	Source   struct {
		Consent bool `json:"consent"`
	} `json:"source"`
}

type ref struct {
	ID *string `json:"id"`
}

func optional(s string) ref {
	if s == "" {
		return ref{}
	}
	return ref{ID: &s}
}

func newResponse(res ingest.TrackResult, debugger bool) response {
	r := response{Task: res.BatchID, UX: []any{}, Response: map[string]any{}, Events: []string{},
		Profile: optional(res.ProfileID), Session: optional(res.SessionID), Errors: []any{}, Warnings: []any{}}
	if debugger {
		r.Events = res.EventIDs
	}
	return r
}

// detail writes Tracardi's {"detail": ...} error body.
func detail(w http.ResponseWriter, status int, d any) {
	httpx.WriteJSON(w, status, map[string]any{"detail": d})
}

// fail writes an application error in Tracardi's dialect.
func fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var blocked *ingest.Blocked
	if errors.As(err, &blocked) {
		detail(w, http.StatusUnprocessableEntity, blockedProblems(blocked))
		return
	}
	code := cdp.ErrorCode(err)
	status := httpx.Status(code)
	if code == cdp.EINVALID {
		status = http.StatusUnprocessableEntity
	}
	if status >= 500 {
		log.Error("track failed", "path", r.URL.Path, "err", err)
	}
	detail(w, status, cdp.ErrorMessage(err))
}

// blockedProblems words a tracking plan's refusal as pydantic would a
// field's: where in the body, and why.
func blockedProblems(b *ingest.Blocked) []problem {
	var out []problem
	for _, e := range b.Events {
		for _, v := range e.Violations {
			loc := []any{"body", "events", e.Index}
			for _, seg := range strings.Split(strings.TrimPrefix(v.Path, "/"), "/") {
				if seg != "" {
					loc = append(loc, strings.NewReplacer("~1", "/", "~0", "~").Replace(seg))
				}
			}
			out = append(out, problem{Type: "tracking_plan", Loc: loc, Msg: fmt.Sprintf("event %q breaks tracking plan %s: %s", e.Type, v.Plan, v.Message),
				Input: json.RawMessage(`null`), Ctx: map[string]string{"plan": v.Plan, "kind": v.Kind}})
		}
	}
	return out
}

// source authorises a source id as Tracardi does: internal ('@') ids,
// unknown, disabled and wrong-kind sources are refused with 401.
func source(in *ingest.Service, id string) (*cdp.Source, error) {
	if strings.HasPrefix(id, "@") {
		return nil, cdp.Errorf(cdp.EUNAUTHORIZED, "Internal event sources are not allowed via API.")
	}
	src, ok := in.Source(id)
	switch {
	case !ok:
		return nil, cdp.Errorf(cdp.EUNAUTHORIZED, "Invalid event source `%s`.", id)
	case !src.Enabled:
		return nil, cdp.Errorf(cdp.EUNAUTHORIZED, "Event source disabled.")
	case src.Kind != cdp.SourceTrack:
		return nil, cdp.Errorf(cdp.EUNAUTHORIZED, "This endpoint allows only sources of kind %s, but the event source `%s` has kind `%s`.", cdp.SourceTrack, id, src.Kind)
	}
	return src, nil
}

// queryBool parses a FastAPI bool query parameter.
func queryBool(r *http.Request, name string) (bool, *problem) {
	raw := r.URL.Query().Get(name)
	switch strings.ToLower(raw) {
	case "", "false", "0", "no", "off", "f", "n":
		return false, nil
	case "true", "1", "yes", "on", "t", "y":
		return true, nil
	}
	in, _ := json.Marshal(raw)
	return false, &problem{Type: "bool_parsing", Loc: []any{"query", name}, Msg: "Input should be a valid boolean, unable to interpret input", Input: in}
}

// problems are a request refused with Tracardi's 422 detail list.
type problems []problem

func (ps problems) Error() string {
	return fmt.Sprintf("%d problems, the first: %s", len(ps), ps[0].Msg)
}

// refuse writes a decoder's refusal: the 422 detail list, or an error.
func refuse(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ps problems
	if errors.As(err, &ps) {
		detail(w, http.StatusUnprocessableEntity, []problem(ps))
		return
	}
	fail(w, r, log, err)
}

// tracked is a decoded /track request: what it appends, the source it
// names, and whether the tracker asked for the debugger's answer.
type tracked struct {
	req      ingest.TrackRequest
	sourceID string
	debugger bool
}

// decodeTrack validates a /track request like Tracardi's pydantic model.
func decodeTrack(r *http.Request, body []byte) (*tracked, error) {
	profileLess, bad := queryBool(r, "profile_less")
	p, ps := decodePayload(body)
	if bad != nil {
		ps = append([]problem{*bad}, ps...)
	}
	if len(ps) > 0 {
		return nil, problems(ps)
	}
	save, ua := p.options.on("saveEvents", true), r.Header.Get("User-Agent")
	for _, e := range p.events {
		e.Ephemeral = e.Ephemeral || !save
		e.UserAgent = ua // the tracker's browser, as every API records it
	}
	return &tracked{sourceID: p.sourceID, debugger: p.options.on("debugger", false),
		req: ingest.TrackRequest{SessionID: p.sessionID, ProfileID: p.profileID, ProfileLess: profileLess,
			SaveSession: p.options.on("saveSession", true), Context: p.context, Properties: p.properties, Events: p.events}}, nil
}

// Track decodes POST /track: the tracker payload, as a request of the
// source it names (which the caller authorises and sets).
func Track(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	t, err := decodeTrack(r, body)
	if err != nil || len(t.req.Events) == 0 {
		return ingest.Decoded{}, err
	}
	return ingest.Decoded{Track: &t.req}, nil
}

// HandleTrack serves POST /track: the Tracardi tracker payload (docs/api.md), resolved to a
// session and profile, appended to the event log before the reply.
func HandleTrack(log *slog.Logger, in *ingest.Service, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := httpx.ReadBody(w, r, maxBody)
		var t *tracked
		if err == nil {
			t, err = decodeTrack(r, body)
		}
		if err != nil {
			in.Rejected("", 1)
			refuse(w, r, log, err)
			return
		}
		src, err := source(in, t.sourceID)
		if err != nil {
			in.Rejected(t.sourceID, max(len(t.req.Events), 1))
			fail(w, r, log, err)
			return
		}
		if len(t.req.Events) == 0 { // Tracardi processes nothing and answers null
			httpx.WriteJSON(w, http.StatusOK, nil)
			return
		}
		t.req.Source = src
		res, err := in.Track(r.Context(), t.req)
		if err != nil {
			fail(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, newResponse(res, t.debugger))
	})
}

// HandleTrackPut serves PUT /track, which Tracardi validates and ignores.
func HandleTrackPut(log *slog.Logger, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := httpx.ReadBody(w, r, maxBody)
		if err != nil {
			fail(w, r, log, err)
			return
		}
		if _, problems := decodePayload(body); len(problems) > 0 {
			detail(w, http.StatusUnprocessableEntity, problems)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, nil)
	})
}

// HandleCollect serves GET|POST /collect/{type}/{source}[/{session}]: one
// event whose properties are the JSON body, the form fields or the query.
// Without a session it is profile-less and sessionless; with one it is
// resolved like /track (Tracardi's code).
func HandleCollect(log *slog.Logger, in *ingest.Service, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		var err error
		if r.Method != http.MethodGet {
			body, err = httpx.ReadBody(w, r, maxBody)
		}
		var dec ingest.Decoded
		if err == nil {
			dec, err = Collect(r, body, nil)
		}
		if err != nil {
			in.Rejected("", 1)
			refuse(w, r, log, err)
			return
		}
		sourceID := strings.TrimSpace(r.PathValue("source"))
		src, err := source(in, sourceID)
		if err != nil {
			in.Rejected(sourceID, 1)
			fail(w, r, log, err)
			return
		}
		dec.Track.Source = src
		res, err := in.Track(r.Context(), *dec.Track)
		if err != nil {
			fail(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, newResponse(res, false))
	})
}

// Collect decodes GET|POST /collect/{type}/{source}[/{session}] (the
// source is the caller's to authorise and set).
func Collect(r *http.Request, body []byte, _ *cdp.Source) (ingest.Decoded, error) {
	props, err := collectProperties(r, body)
	if err != nil {
		return ingest.Decoded{}, err
	}
	typ, err := NormalizeType(r.PathValue("type"))
	if err != nil {
		raw, _ := json.Marshal(r.PathValue("type"))
		return ingest.Decoded{}, problems{{Type: "value_error", Loc: []any{"path", "type"},
			Msg: "Value error, " + err.Error(), Input: raw, Ctx: map[string]string{"error": err.Error()}}}
	}
	sessionID := strings.TrimSpace(r.PathValue("session"))
	return ingest.Decoded{Track: &ingest.TrackRequest{SessionID: sessionID, SaveSession: sessionID != "",
		NoSession: sessionID == "", ProfileLess: sessionID == "",
		Events: []*cdp.Event{{Type: typ, Properties: props, UserAgent: r.Header.Get("User-Agent")}}}}, nil
}

// collectProperties maps a /collect request to event properties: the query
// for GET; for POST the JSON body (invalid JSON counts as {}, as Tracardi
// does) or the form fields.
func collectProperties(r *http.Request, body []byte) (json.RawMessage, error) {
	if r.Method == http.MethodGet {
		return valuesJSON(r.URL.Query())
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	switch {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"), strings.HasPrefix(ct, "multipart/form-data"):
		form := r.Clone(r.Context()) // parsed from the body as read, leaving r as it is
		form.Body, form.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		if err := form.ParseMultipartForm(int64(len(body)) + 1); err != nil && err != http.ErrNotMultipart {
			return nil, cdp.Errorf(cdp.EINVALID, "cannot parse the form: %v", err)
		}
		return valuesJSON(form.PostForm)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !strings.HasPrefix(ct, "application/json") {
		return nil, cdp.Errorf(cdp.EINVALID, "unsupported Content-Type %q: send application/json, a form, or use GET with a query string", ct)
	}
	if !json.Valid(body) {
		return json.RawMessage(`{}`), nil
	}
	if kind(body) != '{' {
		return nil, cdp.Errorf(cdp.EINVALID, "the JSON body must be an object, it becomes the event's properties")
	}
	return body, nil
}

// valuesJSON renders query or form values as Tracardi does: a key with one
// value maps to that string, a repeated key to the list of its values.
func valuesJSON(values map[string][]string) (json.RawMessage, error) {
	out := make(map[string]any, len(values))
	for k, vs := range values {
		if len(vs) == 1 {
			out[k] = vs[0]
		} else {
			out[k] = vs
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode properties: %w", err)
	}
	return b, nil
}

// Refuse answers a request refused because the event log's backlog is
// over its bound: 503, as a Tracardi server that cannot take the request
// answers, with a FastAPI-style detail.
func Refuse(w http.ResponseWriter, _ *http.Request) {
	detail(w, http.StatusServiceUnavailable, httpx.Overloaded)
}
