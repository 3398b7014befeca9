package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

type profileSearch struct {
	Kind, Value, Problem, Erased string
	Kinds                        []string
	Recent                       []*cdp.Profile // to start from: those of the newest events
}

// recentProfiles is how many profiles the lookup page lists.
const recentProfiles = 20

var lookupKinds = []string{"profile", cdp.IdentifierID, cdp.IdentifierEmail, cdp.IdentifierAnonymousID, cdp.IdentifierCioID}

// Profiles serves GET /console/profiles: look a profile up by its id or
// by an identifier; a match goes to its page.
func (c *Console) Profiles() http.Handler {
	return c.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s := &profileSearch{Kind: q.Get("kind"), Value: strings.TrimSpace(q.Get("value")), Erased: q.Get("erased"), Kinds: lookupKinds}
		if s.Value != "" {
			var p *cdp.Profile
			var err error
			switch {
			case !slices.Contains(lookupKinds, s.Kind):
				err = cdp.Errorf(cdp.EINVALID, "look up by one of %s", strings.Join(lookupKinds, ", "))
			case s.Kind == "profile":
				p, err = c.d.Store.FindProfileByID(r.Context(), s.Value)
			default:
				// Normalised as the API does: an email in any case.
				var ident cdp.Identifier
				if ident, err = cdp.NewIdentifier(s.Kind, s.Value); err == nil {
					p, err = c.d.Store.FindProfileByIdentifier(r.Context(), ident)
				}
			}
			if err == nil {
				http.Redirect(w, r, "/console/profiles/"+url.PathEscape(p.ID), http.StatusSeeOther)
				return
			}
			if cdp.ErrorCode(err) != cdp.ENOTFOUND && cdp.ErrorCode(err) != cdp.EINVALID {
				c.fail(w, r, err)
				return
			}
			s.Problem = cdp.ErrorMessage(err)
		}
		var err error
		if s.Recent, err = c.recentProfiles(r); err != nil {
			c.fail(w, r, err)
			return
		}
		c.render(w, r, http.StatusOK, "profiles", "Profiles", s)
	}))
}

// recentProfiles are the profiles of the newest events, newest first.
func (c *Console) recentProfiles(r *http.Request) ([]*cdp.Profile, error) {
	events, _, err := c.d.Store.FindEvents(r.Context(), cdp.EventFilter{Limit: 500})
	if err != nil {
		return nil, err
	}
	var out []*cdp.Profile
	seen := map[string]bool{}
	for _, e := range events {
		if len(out) == recentProfiles {
			break
		}
		if e.ProfileID == "" || seen[e.ProfileID] {
			continue
		}
		seen[e.ProfileID] = true
		p, err := c.d.Store.FindProfileByID(r.Context(), e.ProfileID)
		if cdp.ErrorCode(err) == cdp.ENOTFOUND {
			continue // erased
		}
		if err != nil {
			return nil, err
		}
		if p.ID != e.ProfileID { // merged away: its survivor, once
			if seen[p.ID] {
				continue
			}
			seen[p.ID] = true
		}
		out = append(out, p)
	}
	return out, nil
}

type profilePage struct {
	Profile   *cdp.Profile
	Asked     string // the id asked for, when a merge resolved it elsewhere
	Events    []*cdp.Event
	MoreAfter string
	Sessions  []string
}

// Profile serves GET /console/profiles/{id}: identifiers, traits,
// sessions, merged ids, the event timeline, and the GDPR erase.
func (c *Console) Profile() http.Handler {
	return c.page("profile", "Profile", func(r *http.Request) (any, error) {
		id := r.PathValue("id")
		p, err := c.d.Store.FindProfileByID(r.Context(), id)
		if err != nil {
			return nil, err
		}
		pg := &profilePage{Profile: p}
		if p.ID != id {
			pg.Asked = id
		}
		pg.Events, pg.MoreAfter, err = c.d.Store.FindEvents(r.Context(), cdp.EventFilter{ProfileID: p.ID, Limit: 50})
		for _, e := range pg.Events {
			if e.SessionID != "" && !slices.Contains(pg.Sessions, e.SessionID) {
				pg.Sessions = append(pg.Sessions, e.SessionID)
			}
		}
		return pg, err
	})
}
