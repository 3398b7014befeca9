// Package webhook is the webhook destination kind and its webhook.send
// action: a POST of the event (or any body) signed as Standard Webhooks
// specifies, so a receiver can verify it with any Standard Webhooks
// library.
package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/hooks"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Family is the webhook destination kind and webhook.send.
var Family = action.Family{
	Destination: &action.DestinationKind{
		Kind:        "webhook",
		Description: "An endpoint that receives signed webhooks.",
		Settings: []action.Setting{
			{Name: "url", Required: true, Description: "Where deliveries are POSTed."},
			{Name: "signing_secret", Secret: true, Description: "whsec_…: every delivery carries a Standard Webhooks signature made with it."},
		},
		Check: func(d *action.Destination) map[string]string {
			p := map[string]string{}
			if u := d.Get("url"); u != "" {
				if msg := action.CheckURL(u); msg != "" {
					p["url"] = msg
				}
			}
			if s := d.Get("signing_secret"); s != "" && !hooks.ValidStandardSecret(s) {
				p["signing_secret"] = "must be whsec_ followed by the base64 of the key"
			}
			return p
		},
		Batching: &action.Batching{Join: join},
	},
	Actions: []*action.Spec{send},
}

// join POSTs a batch as a JSON array of the deliveries' bodies, signed
// with the batch's key as webhook-id.
func join(d *action.Destination, _ string, parts []action.Part, key string) (httpclient.Request, error) {
	body := action.JSONArray(parts)
	h := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {key}}
	if err := hooks.SetStandard(h, d.Get("signing_secret"), key, time.Now(), body); err != nil {
		return httpclient.Request{}, err
	}
	return httpclient.Request{Method: http.MethodPost, URL: d.Get("url"), Header: h, Body: body}, nil
}

var send = &action.Spec{
	Kind: "webhook.send", Destination: "webhook", EventBody: true,
	Description: "POSTs the body (default: the triggering event) as JSON to the destination's url, with webhook-id and " +
		"Idempotency-Key set to the step's key, webhook-timestamp, and a webhook-signature when the destination has a " +
		"signing_secret. With the destination's batch, one POST carries a JSON array of the bodies, signed with the batch's " +
		`key. Output: {"status"}.`,
	Inputs: []action.Input{{Name: "body", Type: action.Any, Description: "What to send; default: the event."}},
	Build:  build,
}

// build signs the body with the step's key as webhook-id.
func build(d *action.Destination, in map[string]any, key string, now time.Time) (action.Call, error) {
	url := d.Get("url")
	if url == "" {
		return action.Call{}, fmt.Errorf("destination %s has no url", d.ID)
	}
	body, err := json.Marshal(in["body"])
	if err != nil {
		return action.Call{}, fmt.Errorf("body: %w", err)
	}
	// Signed or not, the request carries the step's key, so that a
	// receiver can drop a retried delivery.
	h := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {key}}
	if err := hooks.SetStandard(h, d.Get("signing_secret"), key, now, body); err != nil {
		return action.Call{}, err
	}
	return action.Call{Request: httpclient.Request{Method: http.MethodPost, URL: url, Header: h, Body: body},
		Output: func(status int, _ []byte) (any, error) { return map[string]any{"status": status}, nil },
		Part:   &action.Part{Data: body}}, nil
}
