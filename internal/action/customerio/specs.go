package customerio

import (
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
)

// Family is the customerio destination kind and its four actions.
var Family = action.Family{
	Destination: &action.DestinationKind{
		Kind:        "customerio",
		Description: "A Customer.io workspace: the Track API with site_id and api_key, transactional email with app_api_key.",
		Settings: []action.Setting{
			{Name: "site_id", Description: "The Track API site id (Basic site_id:api_key)."},
			{Name: "api_key", Secret: true, Description: "The Track API key."},
			{Name: "app_api_key", Secret: true, Description: "The App API key (Bearer), for transactional email."},
			{Name: "region", Description: "us (default) or eu."},
			{Name: "track_url", Description: "Overrides the region's Track API host (a proxy, a test stand-in): the host root."},
			{Name: "app_url", Description: "Overrides the region's App API host: the host root."},
		},
		Check: func(d *action.Destination) map[string]string {
			p := workspace(d).Validate()
			if p == nil {
				p = map[string]string{}
			}
			if d.Get("api_key") == "" && d.Get("app_api_key") == "" {
				p["api_key"] = "a customerio destination needs site_id and api_key (Track API) or app_api_key (transactional email)"
			}
			if (d.Get("site_id") == "") != (d.Get("api_key") == "") {
				p["site_id"] = "site_id and api_key go together"
			}
			return p
		},
		Secrets: func(d *action.Destination) []string {
			return []string{base64.StdEncoding.EncodeToString([]byte(d.Get("site_id") + ":" + d.Get("api_key")))}
		},
		Batching: batching,
	},
	Actions: []*action.Spec{trackEvent, identify, deletePerson, sendEmail},
}

// workspace reads the Customer.io settings of a destination.
func workspace(d *action.Destination) Workspace {
	return Workspace{SiteID: d.Get("site_id"), APIKey: d.Get("api_key"), AppAPIKey: d.Get("app_api_key"),
		Region: d.Get("region"), TrackURL: d.Get("track_url"), AppURL: d.Get("app_url")}
}

func trackOutput(int, []byte) (any, error) { return TrackOutput(), nil }

var identifierInput = action.Input{Name: "identifier", Type: action.String, Required: true,
	Description: "The person: an id, an email, or cio_<cio_id>."}

var trackEvent = &action.Spec{
	Kind: "customerio.track_event", Destination: "customerio",
	Description: "Tracks a custom event on a person (POST /api/v1/customers/{identifier}/events), or an anonymous event " +
		"without an identifier (POST /api/v1/events). The event's id is the step's key, so Customer.io ignores a retried attempt. " +
		`Output: {"success": true}.`,
	Inputs: []action.Input{
		{Name: "name", Type: action.String, Required: true, Description: "The event name."},
		{Name: "identifier", Type: action.String, Description: "The person (id, email or cio_<cio_id>); none sends an anonymous event."},
		{Name: "anonymous_id", Type: action.String, Description: "The anonymous id of an anonymous event."},
		{Name: "data", Type: action.Object, Description: "The event's attributes."},
		{Name: "timestamp", Type: action.Time, Description: "When it happened; default: when Customer.io receives it."},
	},
	Build: func(d *action.Destination, in map[string]any, key string, _ time.Time) (action.Call, error) {
		data, err := action.OptionalObject(in, "data")
		if err != nil {
			return action.Call{}, err
		}
		ts, err := action.OptionalTime(in, "timestamp")
		if err != nil {
			return action.Call{}, err
		}
		ev := Event{Identifier: action.Text(in["identifier"]), AnonymousID: action.Text(in["anonymous_id"]),
			Name: action.Text(in["name"]), Data: data, ID: key, Timestamp: ts}
		req, err := TrackEvent(workspace(d), ev)
		if err != nil {
			return action.Call{}, err
		}
		p, err := eventPart(ev)
		return action.Call{Request: req, Output: trackOutput, Part: p}, err
	},
	Explain: ErrorMessage,
}

var identify = &action.Spec{
	Kind: "customerio.identify", Destination: "customerio",
	Description: `Creates or updates a person with attributes (PUT /api/v1/customers/{identifier}). Output: {"success": true}.`,
	Inputs: []action.Input{
		identifierInput,
		{Name: "attributes", Type: action.Object, Description: "The attributes to set; null removes one."},
	},
	Build: func(d *action.Destination, in map[string]any, _ string, _ time.Time) (action.Call, error) {
		attrs, err := action.OptionalObject(in, "attributes")
		if err != nil {
			return action.Call{}, err
		}
		req, err := Identify(workspace(d), action.Text(in["identifier"]), attrs)
		if err != nil {
			return action.Call{}, err
		}
		p, err := identifyPart(action.Text(in["identifier"]), attrs)
		return action.Call{Request: req, Output: trackOutput, Part: p}, err
	},
	Explain: ErrorMessage,
}

var deletePerson = &action.Spec{
	Kind: "customerio.delete_person", Destination: "customerio",
	Description: `Deletes a person (DELETE /api/v1/customers/{identifier}). Output: {"success": true}.`,
	Inputs:      []action.Input{identifierInput},
	Build: func(d *action.Destination, in map[string]any, _ string, _ time.Time) (action.Call, error) {
		req, err := DeletePerson(workspace(d), action.Text(in["identifier"]))
		if err != nil {
			return action.Call{}, err
		}
		p, err := deletePart(action.Text(in["identifier"]))
		return action.Call{Request: req, Output: trackOutput, Part: p}, err
	},
	Explain: ErrorMessage,
}

// emailFields are send_email's inputs sent as given.
var emailFields = []string{"from", "subject", "body", "body_plain", "reply_to", "bcc", "preheader", "headers", "send_at",
	"language", "send_to_unsubscribed", "tracked", "queue_draft"}

var sendEmail = &action.Spec{
	Kind: "customerio.send_email", Destination: "customerio",
	Description: "Sends a transactional email through the App API (POST /v1/send/email, Bearer app_api_key): a template " +
		"by transactional_message_id, or from, subject and body. " + `Output: {"delivery_id", "queued_at"}.`,
	Inputs: append([]action.Input{
		{Name: "identifiers", Type: action.Object, Required: true, Description: "The person, by exactly one of id, email or cio_id: {'id': profile.identifiers.id}."},
		{Name: "transactional_message_id", Type: action.Any, Description: "The template's id or trigger name; required unless from, subject and body are given."},
		{Name: "to", Type: action.String, Description: "The recipient address, possibly \"Name <address>\"."},
		{Name: "message_data", Type: action.Object, Description: "The template's data."},
	}, fieldInputs()...),
	Build: func(d *action.Destination, in map[string]any, _ string, _ time.Time) (action.Call, error) {
		raw, ok := in["identifiers"].(map[string]any)
		if !ok {
			return action.Call{}, fmt.Errorf("identifiers: must be a map such as {'id': profile.identifiers.id}")
		}
		idents := map[string]string{}
		for k, v := range raw {
			idents[k] = action.Text(v)
		}
		data, err := action.OptionalObject(in, "message_data")
		if err != nil {
			return action.Call{}, err
		}
		fields := map[string]any{}
		for k, v := range in {
			if slices.Contains(emailFields, k) {
				fields[k] = v
			}
		}
		req, err := SendEmail(workspace(d), Email{TransactionalMessageID: in["transactional_message_id"],
			To: action.Text(in["to"]), Identifiers: idents, MessageData: data, Fields: fields})
		return action.Call{Request: req, Output: func(_ int, body []byte) (any, error) { return SendEmailOutput(body) }}, err
	},
	Explain: ErrorMessage,
}

func fieldInputs() []action.Input {
	var out []action.Input
	for _, f := range emailFields {
		out = append(out, action.Input{Name: f, Type: action.Any, Description: "Sent as given (see Customer.io's App API)."})
	}
	return out
}
