// Package slack is the slack destination kind, a Slack incoming webhook,
// and its slack.post action.
package slack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Family is the slack destination kind and slack.post.
var Family = action.Family{
	Destination: &action.DestinationKind{
		Kind:        "slack",
		Description: "A Slack incoming webhook (Slack app → Incoming Webhooks), which posts to one channel.",
		Settings: []action.Setting{
			// The URL is the credential: anyone holding it can post.
			{Name: "url", Required: true, Secret: true, Description: "The incoming webhook URL, https://hooks.slack.com/services/…"},
		},
		Check: func(d *action.Destination) map[string]string {
			if u := d.Get("url"); u != "" {
				if msg := action.CheckURL(u); msg != "" {
					return map[string]string{"url": msg}
				}
			}
			return nil
		},
	},
	Actions: []*action.Spec{Post},
}

// Post is slack.post; alerts send through it too.
var Post = &action.Spec{
	Kind: "slack.post", Destination: "slack",
	Description: "Posts a message to the channel of a Slack incoming webhook: text (Slack's mrkdwn), and optional Block Kit " +
		"blocks, for which text is the notification's fallback. A 429 is retried after Slack's Retry-After. " + `Output: {"status"}.`,
	Inputs: []action.Input{
		{Name: "text", Type: action.String, Required: true, Description: "The message, or the fallback of blocks."},
		{Name: "blocks", Type: action.List, Description: "Block Kit blocks."},
	},
	Build: func(d *action.Destination, in map[string]any, _ string, _ time.Time) (action.Call, error) {
		url := d.Get("url")
		if url == "" {
			return action.Call{}, fmt.Errorf("destination %s has no url", d.ID)
		}
		text := action.Text(in["text"])
		if strings.TrimSpace(text) == "" {
			return action.Call{}, fmt.Errorf("text: is empty")
		}
		msg := map[string]any{"text": text}
		switch b := in["blocks"].(type) {
		case nil:
		case []any:
			msg["blocks"] = b
		default:
			return action.Call{}, fmt.Errorf("blocks: must be a list of Block Kit blocks, not %T", b)
		}
		body, err := json.Marshal(msg)
		if err != nil {
			return action.Call{}, fmt.Errorf("encode the message: %w", err)
		}
		return action.Call{Request: httpclient.Request{Method: http.MethodPost, URL: url,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: body},
			Output: func(status int, _ []byte) (any, error) { return map[string]any{"status": status}, nil }}, nil
	},
	// Slack answers a refused message with a short reason in plain text
	// (invalid_payload, channel_is_archived, no_service …).
	Explain: func(body []byte) string {
		s := strings.TrimSpace(string(body))
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		return s
	},
}
