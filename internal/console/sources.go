package console

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/redact"
)

type sourceList struct {
	Sources []*cdp.Source
	Base    string
}

// Sources serves GET /console/sources.
func (c *Console) Sources() http.Handler {
	return c.page("sources", "Sources", func(r *http.Request) (any, error) {
		return &sourceList{Sources: c.d.Sources.List(), Base: c.baseURL(r)}, nil
	})
}

// secret is a credential shown masked, with show and copy buttons.
type secret struct {
	ID, Label, Value string
}

// snippet is a block of setup text with a copy button.
type snippet struct {
	ID, Label, Text string
}

type sourcePage struct {
	Source   *cdp.Source
	New      bool
	Editable bool
	Secrets  []secret
	Setup    []snippet
	JSON     string // the form's starting text
}

// Source serves GET /console/sources/{id} (and /console/sources/new): the
// source, the exact setup text for its kind, and its form when it was
// created through the API.
func (c *Console) Source() http.Handler {
	return c.page("source", "Source", func(r *http.Request) (any, error) {
		id := r.PathValue("id")
		if id == "new" {
			return &sourcePage{New: true, Editable: true, JSON: `{
  "id": "shop",
  "kind": "track",
  "name": "Web shop"
}`}, nil
		}
		src, ok := c.d.Sources.Get(id)
		if !ok {
			return nil, cdp.Errorf(cdp.ENOTFOUND, "source %s not found", id)
		}
		admin := auth.PrincipalFrom(r.Context()).Can(auth.Admin)
		if !admin { // its credentials are an admin's to see
			src = src.Masked(redact.Mask)
		}
		p := &sourcePage{Source: src, Editable: src.Origin != cdp.OriginConfig && admin}
		p.Secrets, p.Setup = setup(src, c.baseURL(r))
		if p.Editable {
			b, _ := json.MarshalIndent(editable(src), "", "  ")
			p.JSON = string(b)
		}
		return p, nil
	})
}

// editable is a source as the management API takes it (no origin or
// timestamps).
func editable(s *cdp.Source) map[string]any {
	b, _ := json.Marshal(s)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	delete(m, "origin")
	delete(m, "created_at")
	delete(m, "updated_at")
	return m
}

// setup returns a source's credentials and the setup text its clients
// need: the URL to paste, a curl line, the SDK configuration.
func setup(s *cdp.Source, base string) ([]secret, []snippet) {
	switch s.Kind {
	case cdp.SourceTrack:
		return nil, []snippet{
			{"curl", "Send an event", fmt.Sprintf(`curl -X POST %s/track -H 'Content-Type: application/json' \
  -d '{"source":{"id":"%s"},"session":{"id":"s-1"},"events":[{"type":"page-view","properties":{"path":"/"}}]}'`, base, s.ID)},
			{"tracker", "Tracardi JS tracker options", fmt.Sprintf(`const options = { tracker: {
  url: { script: "<where liliput.min.js is served>", api: "%s" },
  source: { id: "%s" }
} };`, base, s.ID)},
			{"collect", "Profile-less collect (GET or POST)", fmt.Sprintf(`curl '%s/collect/page-view/%s?path=/'`, base, s.ID)},
		}
	case cdp.SourceCustomerIOTrack:
		return []secret{{"site-id", "Site ID", s.SiteID}, {"api-key", "API key", s.APIKey}}, []snippet{
			{"curl", "Identify a person (Track API v1)", fmt.Sprintf(`curl -u "$SITE_ID:$API_KEY" -X PUT %s/api/v1/customers/42 \
  -H 'Content-Type: application/json' -d '{"email":"ada@example.com","plan":"pro"}'`, base)},
			{"go", "go-customerio (v3.10.0 or later)", fmt.Sprintf(`track := customerio.NewTrackClient(siteID, apiKey, customerio.WithURL("%s"))`, base)},
		}
	case cdp.SourceCustomerIOPipelines:
		return []secret{{"write-key", "Write key", s.WriteKey}}, []snippet{
			{"curl", "Track an event (Data Pipelines)", fmt.Sprintf(`curl -u "$WRITE_KEY:" -X POST %s/v1/track \
  -H 'Content-Type: application/json' -d '{"userId":"42","event":"Signed Up","properties":{"plan":"pro"}}'`, base)},
			{"go", "analytics-go (cdp-analytics-go or segmentio/analytics-go v3)", fmt.Sprintf(`client, _ := analytics.NewWithConfig(writeKey, analytics.Config{Endpoint: "%s"})`, base)},
			{"node", "@customerio/cdp-analytics-node", fmt.Sprintf(`const analytics = new Analytics({ writeKey, host: "%s" })`, base)},
		}
	case cdp.SourceCustomerIOWebhook:
		return []secret{{"signing-key", "Webhook signing key", s.SigningKey}}, []snippet{
			{"url", "Paste into Customer.io: Data & Integrations → Reporting webhooks → Endpoint URL", base + "/webhooks/" + s.ID},
			{"send", "Try it: sign and send a report as Customer.io would", fmt.Sprintf(`switchyard send webhook --url %s --source %s --file report.json`, base, s.ID)},
		}
	case cdp.SourceWebhook:
		var secrets []secret
		scheme := cdp.VerifyNone
		if v := s.Verify; v != nil {
			scheme = v.Scheme
			if v.Secret != "" {
				secrets = append(secrets, secret{"secret", "Signing secret", v.Secret})
			}
		}
		return secrets, []snippet{
			{"url", "The provider's webhook URL (verification: " + scheme + ")", base + "/webhooks/" + s.ID},
			{"send", "Try it: sign and send a body as the provider would", fmt.Sprintf(`switchyard send webhook --url %s --source %s --file body.json`, base, s.ID)},
		}
	}
	return nil, nil
}
