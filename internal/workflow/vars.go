package workflow

import (
	"context"
	"encoding/json"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// people reads the profile and the session of an event for the
// expressions that use them; a nil reader leaves that variable empty.
type people struct {
	profile func(id string) (*cdp.Profile, error)
	session func(id string) (*cdp.Session, error)
}

// exprVars are the variables of every workflow expression (the names the
// expression environment declares): the event's view (cdp.Event.View; nil
// when the event is gone), its profile and session as p reads them, and
// empty steps, vars and item for the run to fill.
func exprVars(e *cdp.Event, view map[string]any, now time.Time, p people) map[string]any {
	if view == nil {
		view = map[string]any{}
	}
	vars := map[string]any{"event": view, "trigger": view, "profile": map[string]any{}, "session": map[string]any{},
		"steps": map[string]any{}, "vars": map[string]any{}, "item": nil, "now": now}
	if e == nil {
		return vars
	}
	if e.ProfileID != "" && p.profile != nil {
		if pr, err := p.profile(e.ProfileID); err == nil {
			vars["profile"] = asMap(pr)
		}
	}
	if e.SessionID != "" && p.session != nil {
		if s, err := p.session(e.SessionID); err == nil {
			vars["session"] = asMap(s)
		}
	}
	return vars
}

// storePeople reads the profile and the session, as asked, from store.
func storePeople(ctx context.Context, store cdp.Store, profile, session bool) people {
	var p people
	if profile {
		p.profile = func(id string) (*cdp.Profile, error) { return store.FindProfileByID(ctx, id) }
	}
	if session {
		p.session = func(id string) (*cdp.Session, error) { return store.FindSessionByID(ctx, id) }
	}
	return p
}

// asMap renders a profile or a session as its JSON object, the shape the
// management API shows and expressions see.
func asMap(v any) map[string]any {
	data, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(data, &m)
	return m
}
