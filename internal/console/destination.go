package console

import (
	"encoding/json"
	"net/http"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/resources"
)

// destinationPage is the form of a destination: a field per setting of
// each kind, from the action registry, filled with the destination's
// values (secrets never: a secret left empty keeps its stored value).
type destinationPage struct {
	New      bool
	Editable bool
	Item     *resources.Item
	Kinds    []*action.DestinationKind
	Values   map[string]any // the definition's fields, secrets masked
	Versions []*resources.Item
}

// Value is the definition's field name as text ("" for none or a
// masked secret).
func (p *destinationPage) Value(name string) string {
	v, ok := p.Values[name]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		if s == "[redacted]" {
			return ""
		}
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Has reports whether the definition sets the field (a secret too).
func (p *destinationPage) Has(name string) bool { _, ok := p.Values[name]; return ok }

// Destination serves GET /console/destinations/{id} (and /new): the form
// that creates or edits a destination through the management API.
func (c *Console) Destination() http.Handler {
	return c.page("destination", "Destination", func(r *http.Request) (any, error) {
		admin := auth.PrincipalFrom(r.Context()).Can(auth.Admin)
		p := &destinationPage{Kinds: c.d.Destinations.Registry.DestinationKinds(), Values: map[string]any{}}
		id := r.PathValue("id")
		if id == "new" {
			p.New, p.Editable = true, admin
			return p, nil
		}
		it, err := c.d.Resources.Get(cdp.ResourceDestination, id)
		if err != nil {
			return nil, err
		}
		p.Item, p.Editable = it, admin && it.Origin == cdp.OriginAPI
		_ = json.Unmarshal(it.Definition, &p.Values)
		if it.Origin == cdp.OriginAPI {
			if p.Versions, err = c.d.Resources.Versions(r.Context(), cdp.ResourceDestination, id); err != nil {
				return nil, err
			}
		}
		return p, nil
	})
}
