package console

import (
	"net/http"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/resources"
)

// alertsPage is the alerts, and the channels and rules that raise them.
type alertsPage struct {
	Alerts   []*cdp.Alert
	Channels []*resources.Item
	Rules    []*resources.Item
	Admin    bool
}

// Alerts serves GET /console/alerts: the alerts, firing ones first, with
// what was sent to each channel; then the channels and rules (the
// file's, and the API's, which an admin creates and deletes here).
func (c *Console) Alerts() http.Handler {
	return c.page("alerts", "Alerts", func(r *http.Request) (any, error) {
		firing, _, err := c.d.Store.FindAlerts(r.Context(), cdp.AlertFilter{State: cdp.AlertFiring, Limit: 100})
		if err != nil {
			return nil, err
		}
		resolved, _, err := c.d.Store.FindAlerts(r.Context(), cdp.AlertFilter{State: cdp.AlertResolved, Limit: 50})
		if err != nil {
			return nil, err
		}
		p := &alertsPage{Alerts: append(firing, resolved...), Admin: auth.PrincipalFrom(r.Context()).Can(auth.Admin)}
		if p.Channels, err = c.d.Resources.List(cdp.ResourceAlertChannel); err != nil {
			return nil, err
		}
		p.Rules, err = c.d.Resources.List(cdp.ResourceAlertRule)
		return p, err
	})
}
