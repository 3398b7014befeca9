// Package customerio builds the requests of the Customer.io actions (Track
// Custom Event, Identify Person, Delete Person, Send Transactional Email)
// exactly as Customer.io's own clients send them, and reads their answers into step outputs. Sending, pacing
// and retrying belong to internal/httpclient and the workflow runner.
package customerio

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Workspace is a Customer.io workspace: its credentials and hosts.
type Workspace struct {
	SiteID, APIKey string // Track API (Basic)
	AppAPIKey      string // App API (Bearer), for transactional email
	Region         string // us (default) or eu
	// TrackURL and AppURL override the region's hosts (a proxy, a test
	// stand-in): the host root, as go-customerio's WithURL.
	TrackURL, AppURL string
}

// Customer.io's API hosts by region (track and app).
var hosts = map[string][2]string{
	"us": {"https://track.customer.io", "https://api.customer.io"},
	"eu": {"https://track-eu.customer.io", "https://api-eu.customer.io"},
}

// Validate returns the destination's problems keyed by field, or nil.
func (d Workspace) Validate() map[string]string {
	p := map[string]string{}
	if _, ok := hosts[d.region()]; !ok {
		p["region"] = fmt.Sprintf("must be us or eu, not %q", d.Region)
	}
	for field, u := range map[string]string{"track_url": d.TrackURL, "app_url": d.AppURL} {
		if u == "" {
			continue
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			p[field] = fmt.Sprintf("must be an http(s) URL, not %q", u)
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

func (d Workspace) region() string {
	if d.Region == "" {
		return "us"
	}
	return strings.ToLower(d.Region)
}

func (d Workspace) trackURL() string {
	if d.TrackURL != "" {
		return strings.TrimSuffix(d.TrackURL, "/")
	}
	return hosts[d.region()][0]
}

func (d Workspace) appURL() string {
	if d.AppURL != "" {
		return strings.TrimSuffix(d.AppURL, "/")
	}
	return hosts[d.region()][1]
}

// Secrets are the values to mask in captured requests.
func (d Workspace) Secrets() []string {
	return []string{d.APIKey, d.AppAPIKey, base64.StdEncoding.EncodeToString([]byte(d.SiteID + ":" + d.APIKey))}
}

func (d Workspace) trackRequest(method, path string, body any) (httpclient.Request, error) {
	if d.SiteID == "" || d.APIKey == "" {
		return httpclient.Request{}, fmt.Errorf("the destination has no site_id and api_key for the Track API")
	}
	data, err := json.Marshal(body)
	if err != nil {
		return httpclient.Request{}, fmt.Errorf("encode the request: %w", err)
	}
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(d.SiteID+":"+d.APIKey)))
	h.Set("Content-Type", "application/json")
	return httpclient.Request{Method: method, URL: d.trackURL() + path, Header: h, Body: data}, nil
}

// personPath is /api/v1/customers/{identifier} with the identifier
// escaped as Customer.io's clients escape it.
func personPath(identifier string) (string, error) {
	identifier = strings.TrimSpace(identifier)
	if identifier == "" {
		return "", fmt.Errorf("identifier is empty")
	}
	return "/api/v1/customers/" + url.PathEscape(identifier), nil
}

// Event is a Track Custom Event.
type Event struct {
	// Identifier names the person (id, email or cio_<cio_id>); empty sends
	// an anonymous event (with AnonymousID, if set).
	Identifier  string
	AnonymousID string
	Name        string
	Data        map[string]any
	// ID is the event's id: Customer.io ignores an event whose id it has
	// seen, which makes a retried attempt harmless (the idempotency key).
	ID        string
	Timestamp int64 // Unix seconds; 0 = when received
}

// TrackEvent builds POST /api/v1/customers/{identifier}/events, or
// POST /api/v1/events for an anonymous event.
func TrackEvent(d Workspace, e Event) (httpclient.Request, error) {
	if strings.TrimSpace(e.Name) == "" {
		return httpclient.Request{}, fmt.Errorf("name is empty")
	}
	body := map[string]any{"name": e.Name}
	if e.Data != nil {
		body["data"] = e.Data
	}
	if e.ID != "" {
		body["id"] = e.ID
	}
	if e.Timestamp > 0 {
		body["timestamp"] = e.Timestamp
	}
	if e.Identifier == "" {
		if e.AnonymousID != "" {
			body["anonymous_id"] = e.AnonymousID
		}
		return d.trackRequest(http.MethodPost, "/api/v1/events", body)
	}
	path, err := personPath(e.Identifier)
	if err != nil {
		return httpclient.Request{}, err
	}
	return d.trackRequest(http.MethodPost, path+"/events", body)
}

// Identify builds PUT /api/v1/customers/{identifier}: the attributes are
// upserted on the person (created if new).
func Identify(d Workspace, identifier string, attributes map[string]any) (httpclient.Request, error) {
	path, err := personPath(identifier)
	if err != nil {
		return httpclient.Request{}, err
	}
	if attributes == nil {
		attributes = map[string]any{}
	}
	return d.trackRequest(http.MethodPut, path, attributes)
}

// DeletePerson builds DELETE /api/v1/customers/{identifier}.
func DeletePerson(d Workspace, identifier string) (httpclient.Request, error) {
	path, err := personPath(identifier)
	if err != nil {
		return httpclient.Request{}, err
	}
	r, err := d.trackRequest(http.MethodDelete, path, struct{}{})
	r.Body = nil // no body, as go-customerio sends it
	return r, err
}

// Email is a Send Transactional Email request: the template (or
// subject, body and from), the recipient, and the person it is for.
type Email struct {
	TransactionalMessageID any               // template id (number or string) or trigger name
	To                     string            // may be "Name <address>"
	Identifiers            map[string]string // exactly one of id, email, cio_id
	MessageData            map[string]any
	// Optional fields, sent as given: from, subject, body, reply_to, bcc …
	Fields map[string]any
}

// SendEmail builds POST /v1/send/email on the App API.
func SendEmail(d Workspace, e Email) (httpclient.Request, error) {
	if d.AppAPIKey == "" {
		return httpclient.Request{}, fmt.Errorf("the destination has no app_api_key for the App API")
	}
	if len(e.Identifiers) != 1 {
		return httpclient.Request{}, fmt.Errorf("identifiers must name the person by exactly one of id, email or cio_id")
	}
	for k := range e.Identifiers {
		if k != "id" && k != "email" && k != "cio_id" {
			return httpclient.Request{}, fmt.Errorf("identifiers: unknown kind %q (id, email or cio_id)", k)
		}
	}
	if e.TransactionalMessageID == nil && (e.Fields["body"] == nil || e.Fields["subject"] == nil || e.Fields["from"] == nil) {
		return httpclient.Request{}, fmt.Errorf("transactional_message_id is required unless body, subject and from are given")
	}
	body := map[string]any{}
	for k, v := range e.Fields {
		body[k] = v
	}
	body["identifiers"] = e.Identifiers
	if e.TransactionalMessageID != nil {
		body["transactional_message_id"] = e.TransactionalMessageID
	}
	if e.To != "" {
		body["to"] = e.To
	}
	if e.MessageData != nil {
		body["message_data"] = e.MessageData
	}
	data, err := json.Marshal(body)
	if err != nil {
		return httpclient.Request{}, fmt.Errorf("encode the request: %w", err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+d.AppAPIKey)
	h.Set("Content-Type", "application/json")
	return httpclient.Request{Method: http.MethodPost, URL: d.appURL() + "/v1/send/email", Header: h, Body: data}, nil
}

// TrackOutput is the output of a successful Track API action: what the
// seed action returns.
func TrackOutput() map[string]any { return map[string]any{"success": true} }

// SendEmailOutput reads a transactional send's answer:
// {"delivery_id": "…", "queued_at": <unix seconds>}.
func SendEmailOutput(body []byte) (map[string]any, error) {
	var out struct {
		DeliveryID string `json:"delivery_id"`
		QueuedAt   int64  `json:"queued_at"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.DeliveryID == "" {
		return nil, fmt.Errorf("the App API answered %q, not {delivery_id, queued_at}", truncate(body))
	}
	return map[string]any{"delivery_id": out.DeliveryID, "queued_at": out.QueuedAt}, nil
}

// ErrorMessage extracts Customer.io's {"meta":{"error":…}} (or errors[])
// from an error answer, for the run log.
func ErrorMessage(body []byte) string {
	var e struct {
		Meta struct {
			Error  string   `json:"error"`
			Errors []string `json:"errors"`
		} `json:"meta"`
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Meta.Error != "" {
			return e.Meta.Error
		}
		if len(e.Meta.Errors) > 0 {
			return strings.Join(e.Meta.Errors, "; ")
		}
	}
	return truncate(body)
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
