package admin

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/breaker"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/redact"
)

// Destinations is what the destination endpoints read and change.
type Destinations struct {
	// List returns the configured destinations, by id.
	List     func() []*action.Destination
	Registry *action.Registry
	Breakers Breakers
	// Waiting counts the runs each destination's breaker holds.
	Waiting func(ctx context.Context) (map[string]int, error)
	// Resume queues the runs waiting on a destination that closed; it
	// returns at once and the runs follow at the destination's pace.
	Resume func(d *action.Destination)
	// Origin says where a destination was defined (config or api) and
	// its version.
	Origin func(id string) (origin string, version int)
}

// Breakers are the destinations' circuit breakers (package breaker).
type Breakers interface {
	Status(id string) breaker.Status
	Health(id string) breaker.Health
	Pause(ctx context.Context, id, reason string) error
	Resume(ctx context.Context, id string) error
}

// DestinationView is a destination as the management API shows it: its
// configuration (secret settings masked), its breaker and its health on
// the node that answers.
type DestinationView struct {
	ID       string            `json:"id"`
	Kind     string            `json:"kind"`
	Origin   string            `json:"origin,omitempty"` // config or api
	Version  int               `json:"version,omitempty"`
	Settings map[string]string `json:"settings"`
	// Actions are the action kinds that send to it.
	Actions     []string       `json:"actions"`
	RateLimit   float64        `json:"rate_limit,omitempty"`
	Breaker     breakerConfig  `json:"circuit_breaker"`
	State       breaker.State  `json:"state"`
	Since       *time.Time     `json:"since,omitempty"`
	Reason      string         `json:"reason,omitempty"`
	LastError   string         `json:"last_error,omitempty"`
	NextProbeAt *time.Time     `json:"next_probe_at,omitempty"`
	RunsWaiting int            `json:"runs_waiting"`
	Health      breaker.Health `json:"health"`
}

type breakerConfig struct {
	Failures    int    `json:"failures"`
	Cooldown    string `json:"cooldown"`
	MaxCooldown string `json:"max_cooldown"`
}

// View builds the view of d, with the count of runs waiting on it.
func (ds *Destinations) View(d *action.Destination, waiting int) DestinationView {
	v := DestinationView{ID: d.ID, Kind: d.Kind, Settings: map[string]string{}, RateLimit: d.RateLimit, RunsWaiting: waiting,
		Actions: []string{}}
	if ds.Origin != nil {
		v.Origin, v.Version = ds.Origin(d.ID)
	}
	secrets := ds.Registry.Secrets(d)
	if k, ok := ds.Registry.DestinationKind(d.Kind); ok {
		for _, s := range k.Settings {
			if val := d.Get(s.Name); val != "" {
				if s.Secret {
					val = redact.Mask
				}
				v.Settings[s.Name] = redact.Values(val, secrets...)
			}
		}
	}
	for _, s := range ds.Registry.Actions() {
		if s.Destination == d.Kind || (s.Destination == "" && d.Kind == "http") {
			v.Actions = append(v.Actions, s.Kind)
		}
	}
	cfg := d.Breaker
	if cfg.Failures == 0 {
		cfg = action.DefaultBreaker
	}
	v.Breaker = breakerConfig{Failures: cfg.Failures, Cooldown: cfg.Cooldown.String(), MaxCooldown: cfg.MaxCooldown.String()}
	st := ds.Breakers.Status(d.ID)
	v.State, v.Reason, v.LastError = st.State, st.Reason, st.LastError
	if !st.Since.IsZero() {
		v.Since = &st.Since
	}
	if st.State == breaker.Open && !st.ProbeAt.IsZero() {
		v.NextProbeAt = &st.ProbeAt
	}
	v.Health = ds.Breakers.Health(d.ID)
	return v
}

// Views returns every destination's view, by id.
func (ds *Destinations) Views(ctx context.Context) ([]DestinationView, error) {
	waiting, err := ds.Waiting(ctx)
	if err != nil {
		return nil, err
	}
	out := []DestinationView{}
	for _, d := range ds.List() {
		out = append(out, ds.View(d, waiting[d.ID]))
	}
	return out, nil
}

func (ds *Destinations) find(id string) (*action.Destination, error) {
	for _, d := range ds.List() {
		if d.ID == id {
			return d, nil
		}
	}
	return nil, cdp.Errorf(cdp.ENOTFOUND, "destination %s not found", id)
}

// ListDestinations serves GET /admin/v1/destinations.
func ListDestinations(log *slog.Logger, ds *Destinations) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		views, err := ds.Views(r.Context())
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"destinations": views})
	})
}

// GetDestination serves GET /admin/v1/destinations/{id}.
func GetDestination(log *slog.Logger, ds *Destinations) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := ds.find(r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		waiting, err := ds.Waiting(r.Context())
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, ds.View(d, waiting[d.ID]))
	})
}

// PauseDestination serves POST /admin/v1/destinations/{id}/pause: attempts
// to it wait, on every node, until it is resumed.
func PauseDestination(log *slog.Logger, ds *Destinations) http.Handler {
	return ds.change(log, func(ctx context.Context, d *action.Destination) error {
		return ds.Breakers.Pause(ctx, d.ID, breaker.ByOperator)
	})
}

// ResumeDestination serves POST /admin/v1/destinations/{id}/resume: it
// closes the breaker (paused or open) and releases the runs waiting on it.
func ResumeDestination(log *slog.Logger, ds *Destinations) http.Handler {
	return ds.change(log, func(ctx context.Context, d *action.Destination) error {
		if err := ds.Breakers.Resume(ctx, d.ID); err != nil {
			return err
		}
		ds.Resume(d)
		return nil
	})
}

// change applies fn to the destination named in the path and answers
// with its view.
func (ds *Destinations) change(log *slog.Logger, fn func(context.Context, *action.Destination) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := ds.find(r.PathValue("id"))
		if err == nil {
			err = fn(r.Context(), d)
		}
		var waiting map[string]int
		if err == nil {
			waiting, err = ds.Waiting(r.Context())
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, ds.View(d, waiting[d.ID]))
	})
}

// ListAlerts serves GET /admin/v1/alerts?state=&limit=&cursor=: alerts
// newest first, each with the announcements made of it.
func ListAlerts(log *slog.Logger, store cdp.AlertStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := cdp.AlertFilter{State: q.Get("state"), Cursor: q.Get("cursor")}
		if f.State != "" && f.State != cdp.AlertFiring && f.State != cdp.AlertResolved {
			httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "state must be firing or resolved, not %q", f.State))
			return
		}
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 1000 {
				httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "limit must be an integer from 1 to 1000, not %q", s))
				return
			}
			f.Limit = n
		}
		alerts, next, err := store.FindAlerts(r.Context(), f)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"alerts": alerts, "next_cursor": next})
	})
}
