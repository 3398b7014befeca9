package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/alert"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/hooks"
)

// Alerts declares where alerts go and which conditions raise them
// (docs/workflows.md).
type Alerts struct {
	// ConsoleURL is how operators reach the console, for the links in
	// messages (default: http://localhost plus the listen port).
	ConsoleURL string `yaml:"console_url"`
	// EvaluateEvery is how often the rules are checked (default 10s).
	EvaluateEvery string         `yaml:"evaluate_every"`
	Channels      []AlertChannel `yaml:"channels"`
	Rules         []AlertRule    `yaml:"rules"`
}

// AlertChannel is a Slack incoming webhook, a signed webhook, or email
// through a customerio destination's transactional messages.
type AlertChannel struct {
	ID                  string `yaml:"id"`
	Kind                string `yaml:"kind"` // slack | webhook | email
	URL                 string `yaml:"url"`
	SigningSecret       string `yaml:"signing_secret"`
	AllowPrivateNetwork bool   `yaml:"allow_private_network"`
	// email
	Destination            string `yaml:"destination"`
	To                     string `yaml:"to"`
	From                   string `yaml:"from"`
	TransactionalMessageID any    `yaml:"transactional_message_id"`
}

// AlertRule raises alerts of one kind, to its channels.
type AlertRule struct {
	ID       string   `yaml:"id"` // default: the kind
	Kind     string   `yaml:"kind"`
	Channels []string `yaml:"channels"`
	// Workflow, Destination or Source limits the rule to one subject.
	Workflow    string `yaml:"workflow"`
	Destination string `yaml:"destination"`
	Source      string `yaml:"source"`
	// Above is the bound of webhook_failures (per Per) and backlog.
	Above float64 `yaml:"above"`
	Per   string  `yaml:"per"`   // default 1m
	Wait  string  `yaml:"wait"`  // default 30s for dead_letter, else 0
	Every string  `yaml:"every"` // default 10m
}

// AlertEvery is how often the rules are checked.
func (a Alerts) AlertEvery() time.Duration {
	if d, err := time.ParseDuration(a.EvaluateEvery); err == nil && d > 0 {
		return d
	}
	return 10 * time.Second
}

// AlertRules converts the rules; Validate has checked them.
func (c *Config) AlertRules() []alert.Rule {
	var out []alert.Rule
	for _, r := range c.Alerts.Rules {
		rule := alert.Rule{ID: r.RuleID(), Kind: r.Kind, Channels: r.Channels, Above: r.Above,
			Subject: r.Workflow + r.Destination + r.Source, Per: time.Minute, Every: 10 * time.Minute}
		if r.Kind == alert.DeadLetter {
			rule.Wait = 30 * time.Second
		}
		for raw, into := range map[string]*time.Duration{r.Per: &rule.Per, r.Wait: &rule.Wait, r.Every: &rule.Every} {
			if d, err := time.ParseDuration(raw); err == nil {
				*into = d
			}
		}
		out = append(out, rule)
	}
	return out
}

// AlertChannels converts the channels; Validate has checked them.
func (c *Config) AlertChannels() []alert.Channel {
	var out []alert.Channel
	for _, ch := range c.Alerts.Channels {
		a := alert.Channel{ID: ch.ID, Kind: ch.Kind, To: ch.To, From: ch.From, TransactionalMessageID: ch.TransactionalMessageID}
		if ch.Kind == "email" {
			for _, d := range c.Destinations {
				if d.ID == ch.Destination {
					a.Destination = d.Destination()
				}
			}
		} else {
			a.Destination = alert.ChannelDestination(ch.ID, ch.Kind, ch.URL, ch.SigningSecret, ch.AllowPrivateNetwork)
		}
		out = append(out, a)
	}
	return out
}

// RuleID is the rule's id: its kind unless it names one.
func (r AlertRule) RuleID() string {
	if r.ID != "" {
		return r.ID
	}
	return r.Kind
}

// checkAlerts checks the channels and the rules against the sources,
// destinations and workflows they name.
func (c *Config) checkAlerts(add func(path, format string, args ...any)) {
	if d, err := time.ParseDuration(c.Alerts.EvaluateEvery); c.Alerts.EvaluateEvery != "" && (err != nil || d < 100*time.Millisecond) {
		add("alerts.evaluate_every", "must be a duration of at least 100ms such as 10s, not %q", c.Alerts.EvaluateEvery)
	}
	if u := c.Alerts.ConsoleURL; u != "" && action.CheckURL(u) != "" {
		add("alerts.console_url", "must be an http(s) URL such as https://switchyard.example.com, not %q", u)
	}
	channels := map[string]bool{}
	for i, ch := range c.Alerts.Channels {
		path := fmt.Sprintf("alerts.channels[%d]", i)
		if !cdp.ValidSourceID(ch.ID) {
			add(path+".id", "must be 1-128 letters, digits, '_' or '-', starting with a letter or digit")
		} else if channels[ch.ID] {
			add(path+".id", "duplicates channel %q", ch.ID)
		}
		channels[ch.ID] = true
		c.checkChannel(path, ch, add)
	}
	rules := map[string]bool{}
	for i, r := range c.Alerts.Rules {
		path := fmt.Sprintf("alerts.rules[%d]", i)
		if rules[r.RuleID()] {
			add(path+".id", "duplicates rule %q (two rules of one kind need ids)", r.RuleID())
		}
		rules[r.RuleID()] = true
		c.checkRule(path, r, channels, add)
	}
}

func (c *Config) checkChannel(path string, ch AlertChannel, add func(path, format string, args ...any)) {
	switch ch.Kind {
	case "slack", "webhook":
		if ch.URL == "" || action.CheckURL(ch.URL) != "" {
			add(path+".url", "must be the channel's http(s) URL")
		}
		if ch.SigningSecret != "" && (ch.Kind != "webhook" || !hooks.ValidStandardSecret(ch.SigningSecret)) {
			add(path+".signing_secret", "is for webhook channels: whsec_ followed by the base64 of the key")
		}
	case "email":
		i := slices.IndexFunc(c.Destinations, func(d Destination) bool { return d.ID == ch.Destination })
		switch {
		case i < 0:
			add(path+".destination", "must name a customerio destination with an app_api_key, not %q", ch.Destination)
		case c.Destinations[i].Kind != "customerio" || c.Destinations[i].AppAPIKey == "":
			add(path+".destination", "%q must be a customerio destination with an app_api_key (transactional email)", ch.Destination)
		}
		if !strings.Contains(ch.To, "@") {
			add(path+".to", "must be the recipient's email address")
		}
		if ch.TransactionalMessageID == nil && !strings.Contains(ch.From, "@") {
			add(path+".from", "is required (a sender address) unless transactional_message_id names a template")
		}
	default:
		add(path+".kind", "must be one of %s, not %q", strings.Join(alert.ChannelKinds, ", "), ch.Kind)
	}
}

func (c *Config) checkRule(path string, r AlertRule, channels map[string]bool, add func(path, format string, args ...any)) {
	if !slices.Contains(alert.Kinds, r.Kind) {
		add(path+".kind", "must be one of %s, not %q", strings.Join(alert.Kinds, ", "), r.Kind)
	}
	if len(r.Channels) == 0 {
		add(path+".channels", "must name at least one channel")
	}
	for j, ch := range r.Channels {
		if !channels[ch] {
			add(fmt.Sprintf("%s.channels[%d]", path, j), "no channel %q under alerts.channels", ch)
		}
	}
	// Workflows and sources may be created through the management API, so
	// only a destination (configured alone) is checked to exist.
	for field, s := range map[string]struct {
		value string
		kinds []string
	}{
		"workflow": {r.Workflow, []string{alert.DeadLetter}}, "destination": {r.Destination, []string{alert.DestinationOpen}},
		"source": {r.Source, []string{alert.SourceSilent, alert.WebhookFailures, alert.PlanViolations}},
	} {
		if s.value != "" && !slices.Contains(s.kinds, r.Kind) {
			add(path+"."+field, "does not apply to a %s rule", r.Kind)
		}
	}
	if d := r.Destination; d != "" && !slices.ContainsFunc(c.Destinations, func(x Destination) bool { return x.ID == d }) {
		add(path+".destination", "no destination %q", d)
	}
	if (r.Kind == alert.WebhookFailures || r.Kind == alert.Backlog || r.Kind == alert.PlanViolations) && r.Above <= 0 {
		add(path+".above", "must be a positive bound for a %s rule", r.Kind)
	}
	for field, raw := range map[string]string{"per": r.Per, "wait": r.Wait, "every": r.Every} {
		if d, err := time.ParseDuration(raw); raw != "" && (err != nil || d < 0) {
			add(path+"."+field, "must be a duration such as 30s or 10m, not %q", raw)
		}
	}
}
