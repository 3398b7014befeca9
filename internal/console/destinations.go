package console

import (
	"net/http"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/admin"
)

type destinationsPage struct {
	Destinations []admin.DestinationView
	// Actions is the reference of every action kind, read from the
	// registry: what a step may call and with which inputs.
	Actions []*action.Spec
}

// Destinations serves GET /console/destinations: each destination's
// circuit breaker with pause and resume, its health on this node and the
// runs waiting on it, then the actions steps can call.
func (c *Console) Destinations() http.Handler {
	return c.page("destinations", "Destinations", func(r *http.Request) (any, error) {
		views, err := c.d.Destinations.Views(r.Context())
		if err != nil {
			return nil, err
		}
		return destinationsPage{Destinations: views, Actions: c.d.Destinations.Registry.Actions()}, nil
	})
}
