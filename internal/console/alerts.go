package console

import (
	"net/http"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Alerts serves GET /console/alerts: the alerts, firing ones first, with
// what was sent to each channel.
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
		return append(firing, resolved...), nil
	})
}
