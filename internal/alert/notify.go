package alert

import (
	"context"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Channel kinds, and the action each sends with.
var channelActions = map[string]string{"slack": "slack.post", "webhook": "webhook.send", "email": "customerio.send_email"}

// ChannelKinds are the kinds of channel.
var ChannelKinds = []string{"email", "slack", "webhook"}

// sendPolicy is how an announcement is retried: a few attempts over a
// minute or so, through the outbound client (its reach rules apply).
var sendPolicy = httpclient.Policy{MaxAttempts: 5, Base: time.Second, Max: 30 * time.Second}

// maxNotifications bounds an alert's record of announcements.
const maxNotifications = 50

// announce sends an alert's event (firing, repeat, resolved) to each
// channel in the background, and records each outcome on the alert.
func (a *Alerts) announce(ctx context.Context, al *cdp.Alert, event string, channels []string) {
	snapshot := *al
	for _, id := range channels {
		c, ok := a.cfg.Load().channels[id]
		if !ok {
			continue
		}
		a.sending.Go(func() {
			n := a.send(ctx, c, &snapshot, event)
			a.note(ctx, snapshot.ID, n)
		})
	}
}

// send builds the channel's message and sends it with retries.
func (a *Alerts) send(ctx context.Context, c Channel, al *cdp.Alert, event string) cdp.Notification {
	n := cdp.Notification{Channel: c.ID, Event: event, At: a.now().UTC(), Status: "failed"}
	spec, ok := a.registry.Action(channelActions[c.Kind])
	if !ok {
		n.Error = "no action for channel kind " + c.Kind
		return n
	}
	// The key names this announcement: a receiver can drop a retried one.
	call, err := spec.Build(c.Destination, a.message(c, al, event), al.ID+":"+event+":"+c.ID, a.now())
	if err != nil {
		n.Error = err.Error()
		return n
	}
	client := a.registry.Client(c.Destination)
	for attempt := 1; ; attempt++ {
		at, err := a.client.Do(ctx, client, attempt, call.Request)
		if err != nil {
			n.Error = err.Error() // shutting down
			return n
		}
		n.Attempts, n.Error = attempt, at.Error
		if at.Class == httpclient.Succeeded {
			n.Status = "sent"
			return n
		}
		if spec.Explain != nil && len(at.Body) > 0 {
			n.Error += ": " + spec.Explain(at.Body)
		}
		d, again := sendPolicy.Delay(attempt, at.RetryAfter)
		if at.Class != httpclient.Retryable || !again {
			a.log.Warn("alert not delivered", "channel", c.ID, "alert", al.Key, "attempts", attempt, "err", n.Error)
			return n
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return n
		}
	}
}

// note records an announcement's outcome on the alert.
func (a *Alerts) note(ctx context.Context, id string, n cdp.Notification) {
	for range 5 {
		list, _, err := a.store.FindAlerts(ctx, cdp.AlertFilter{ID: id, Limit: 1})
		if err != nil || len(list) == 0 {
			return
		}
		al := list[0]
		al.Notifications = append(al.Notifications, n)
		if over := len(al.Notifications) - maxNotifications; over > 0 {
			al.Notifications = al.Notifications[over:]
		}
		err = a.store.UpdateAlert(ctx, al)
		if cdp.ErrorCode(err) != cdp.ECONFLICT {
			if err != nil {
				a.log.Warn("record alert notification", "alert", al.Key, "err", err)
			}
			return
		}
	}
}

// headline is the first line of an announcement.
func headline(al *cdp.Alert, event string) string {
	switch event {
	case "resolved":
		return "Resolved: " + al.Summary
	case "repeat":
		return "Still firing: " + al.Summary
	}
	return "Alert: " + al.Summary
}

// message is the action input that carries an announcement on c.
func (a *Alerts) message(c Channel, al *cdp.Alert, event string) map[string]any {
	head := headline(al, event)
	switch c.Kind {
	case "slack":
		icon := map[string]string{"firing": ":red_circle:", "repeat": ":large_orange_circle:", "resolved": ":white_check_mark:"}[event]
		footer := fmt.Sprintf("rule `%s` · since %s", slackEscape(al.Rule), al.StartedAt.Format(time.RFC3339))
		if al.Link != "" {
			footer = fmt.Sprintf("<%s|Open in the console> · %s", al.Link, footer)
		}
		return map[string]any{"text": head, "blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": icon + " *Switchyard* " + slackEscape(head)}},
			map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": footer}}},
		}}
	case "email":
		in := map[string]any{"identifiers": map[string]any{"email": c.To}, "to": c.To}
		if c.TransactionalMessageID != nil {
			in["transactional_message_id"] = c.TransactionalMessageID
			in["message_data"] = map[string]any{"event": event, "headline": head, "alert": payload(al)}
			return in
		}
		in["from"], in["subject"] = c.From, "[Switchyard] "+head
		in["body"] = "<p>" + html.EscapeString(head) + "</p><p><a href=\"" + html.EscapeString(al.Link) + "\">Open in the console</a></p>"
		in["body_plain"] = head + "\n\n" + al.Link
		return in
	}
	return map[string]any{"body": map[string]any{"type": "alert." + event, "alert": payload(al)}}
}

// payload is the alert as a webhook or a template sees it.
func payload(al *cdp.Alert) map[string]any {
	out := map[string]any{"id": al.ID, "key": al.Key, "rule": al.Rule, "kind": al.Kind, "subject": al.Subject, "state": al.State,
		"summary": al.Summary, "count": al.Count, "link": al.Link, "started_at": al.StartedAt}
	if al.ResolvedAt != nil {
		out["resolved_at"] = *al.ResolvedAt
	}
	return out
}

// slackEscape escapes what Slack's mrkdwn reads as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// ChannelDestination is the destination a slack or webhook channel sends
// through (an email channel uses a configured customerio destination).
func ChannelDestination(id, kind, url, signingSecret string, allowPrivate bool) *action.Destination {
	settings := map[string]string{"url": url}
	if signingSecret != "" {
		settings["signing_secret"] = signingSecret
	}
	return &action.Destination{ID: "alerts-" + id, Kind: kind, Settings: settings, AllowPrivateNetwork: allowPrivate,
		Timeout: 10 * time.Second}
}
