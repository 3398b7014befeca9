// Package admin serves the management API (/admin/v1, described in docs/api.md): events,
// profiles, sessions, sources and the live tail. The console, the CLI and
// external tests use it; errors are {"error":{"code","message"}}.
package admin

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/identity"
	"github.com/switchyardhq/switchyard/internal/ingest"
	"github.com/switchyardhq/switchyard/internal/redact"
)

// maxBody caps management request bodies.
const maxBody = 1 << 20

// eventFilter reads the event listing filters from the query.
func eventFilter(r *http.Request) (cdp.EventFilter, error) {
	q := r.URL.Query()
	f := cdp.EventFilter{SourceID: q.Get("source"), Type: q.Get("type"), ProfileID: q.Get("profile_id"),
		SessionID: q.Get("session_id"), Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return f, cdp.Errorf(cdp.EINVALID, "limit must be an integer from 1 to 1000, not %q", s)
		}
		f.Limit = n
	}
	if s := q.Get("since"); s != "" {
		t, err := ParseTime("since", s)
		if err != nil {
			return f, err
		}
		f.Since = t
	}
	return f, nil
}

// ParseTime reads the time parameter name: RFC 3339, Unix seconds, or a
// browser's datetime-local value (2026-11-23T10:00, taken as UTC).
func ParseTime(name, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, cdp.Errorf(cdp.EINVALID, "%s must be a time: RFC 3339, 2026-11-23T10:00 (UTC) or Unix seconds, not %q", name, s)
}

// optionalTime is ParseTime for a parameter that may be absent (zero).
func optionalTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return ParseTime(name, s)
}

type eventList struct {
	Events     []*cdp.Event `json:"events"`
	NextCursor string       `json:"next_cursor"`
}

// ListEvents serves GET /admin/v1/events.
func ListEvents(log *slog.Logger, store cdp.EventReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := eventFilter(r)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		listEvents(w, r, log, store, f)
	})
}

func listEvents(w http.ResponseWriter, r *http.Request, log *slog.Logger, store cdp.EventReader, f cdp.EventFilter) {
	events, next, err := store.FindEvents(r.Context(), f)
	if err != nil {
		httpx.Error(w, r, log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, eventList{Events: events, NextCursor: next})
}

// GetEvent serves GET /admin/v1/events/{id}: the event and, while
// retention keeps it, the raw request that carried it.
func GetEvent(log *slog.Logger, store cdp.EventReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := store.FindEventByID(r.Context(), r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		out := eventDetail{Event: e}
		if e.RequestID != "" {
			raw, err := store.FindRawRequest(r.Context(), e.RequestID)
			if err != nil && cdp.ErrorCode(err) != cdp.ENOTFOUND { // gone after retention
				httpx.Error(w, r, log, err)
				return
			}
			out.Raw = viewRaw(raw)
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	})
}

// eventDetail is an event with the raw request that carried it.
type eventDetail struct {
	*cdp.Event
	Raw *rawView `json:"raw,omitempty"`
}

// rawView shows a raw request: its headers as a map, its body as text
// when it is UTF-8, else in base64.
type rawView struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	RemoteAddr string              `json:"remote_addr,omitempty"`
	Headers    map[string][]string `json:"headers"`
	Body       *string             `json:"body,omitempty"`
	BodyBase64 *string             `json:"body_base64,omitempty"`
	BodySize   int64               `json:"body_size"`
	Truncated  bool                `json:"truncated,omitempty"`
	ReceivedAt time.Time           `json:"received_at"`
}

func viewRaw(r *cdp.RawRequest) *rawView {
	if r == nil {
		return nil
	}
	v := &rawView{Method: r.Method, Path: r.Path, RemoteAddr: r.RemoteAddr, Headers: r.Headers(),
		BodySize: r.BodySize, Truncated: r.Truncated, ReceivedAt: r.ReceivedAt}
	if len(r.Body) > 0 {
		s := string(r.Body)
		if utf8.ValidString(s) {
			v.Body = &s
		} else {
			s = base64.StdEncoding.EncodeToString(r.Body)
			v.BodyBase64 = &s
		}
	}
	return v
}

// FindProfile serves GET /admin/v1/profiles?identifier=KIND:VALUE.
func FindProfile(log *slog.Logger, store cdp.ProfileReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.URL.Query().Get("identifier")
		if raw == "" {
			httpx.Error(w, r, log, cdp.Errorf(cdp.EINVALID, "identifier=KIND:VALUE is required (kinds: id, email, cio_id, anonymous_id)"))
			return
		}
		ident, err := cdp.ParseIdentifier(raw)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		p, err := store.FindProfileByIdentifier(r.Context(), ident)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, p)
	})
}

// GetProfile serves GET /admin/v1/profiles/{id}; a merged-away id returns
// the surviving profile.
func GetProfile(log *slog.Logger, store cdp.ProfileReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := store.FindProfileByID(r.Context(), r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, p)
	})
}

// ProfileEvents serves GET /admin/v1/profiles/{id}/events.
func ProfileEvents(log *slog.Logger, store cdp.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := store.FindProfileByID(r.Context(), r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		f, err := eventFilter(r)
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		f.ProfileID = p.ID
		listEvents(w, r, log, store, f)
	})
}

// DeleteProfile serves DELETE /admin/v1/profiles/{id}: GDPR erasure of the
// profile, its identifiers, sessions and events.
func DeleteProfile(log *slog.Logger, id *identity.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := id.Erase(r.Context(), r.PathValue("id")); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// GetSession serves GET /admin/v1/sessions/{id}.
func GetSession(log *slog.Logger, store cdp.ProfileReader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := store.FindSessionByID(r.Context(), r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, s)
	})
}

// sourceDTO is the writable part of a source.
type sourceDTO struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	Name      string  `json:"name"`
	Enabled   *bool   `json:"enabled"`
	SiteID    string  `json:"site_id"`
	APIKey    string  `json:"api_key"`
	WriteKey  string  `json:"write_key"`
	RateLimit float64 `json:"rate_limit"`
	// customerio_webhook and webhook sources
	SigningKey         string             `json:"signing_key"`
	TimestampTolerance int                `json:"timestamp_tolerance"`
	Verify             *cdp.WebhookVerify `json:"verify"`
	EventType          string             `json:"event_type"`
	DedupKey           string             `json:"dedup_key"`
	ForwardTo          []string           `json:"forward_to"`
	ExpectEvery        string             `json:"expect_every"`
	Transform          string             `json:"transform"`
}

func decodeSource(w http.ResponseWriter, r *http.Request) (*cdp.Source, error) {
	body, err := httpx.ReadBody(w, r, maxBody)
	if err != nil {
		return nil, err
	}
	var dto sourceDTO
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&dto); err != nil {
		return nil, cdp.Errorf(cdp.EINVALID, "invalid JSON body: %v", err)
	}
	return &cdp.Source{ID: dto.ID, Kind: dto.Kind, Name: dto.Name, Enabled: dto.Enabled == nil || *dto.Enabled,
		SiteID: dto.SiteID, APIKey: dto.APIKey, WriteKey: dto.WriteKey, RateLimit: dto.RateLimit,
		SigningKey: dto.SigningKey, TimestampTolerance: dto.TimestampTolerance, Verify: dto.Verify,
		EventType: dto.EventType, DedupKey: dto.DedupKey, ForwardTo: dto.ForwardTo, ExpectEvery: dto.ExpectEvery, Transform: dto.Transform}, nil
}

type sourceList struct {
	Sources []*cdp.Source `json:"sources"`
}

// ListSources serves GET /admin/v1/sources.
func ListSources(sources *ingest.Sources) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list := sources.List()
		for i, src := range list {
			list[i] = shown(r, src)
		}
		httpx.WriteJSON(w, http.StatusOK, sourceList{Sources: list})
	})
}

// shown is src as the requester may see it: with its credentials for an
// admin, masked for the roles below.
func shown(r *http.Request, src *cdp.Source) *cdp.Source {
	if auth.PrincipalFrom(r.Context()).Can(auth.Admin) {
		return src
	}
	return src.Masked(redact.Mask)
}

// GetSource serves GET /admin/v1/sources/{id}.
func GetSource(log *slog.Logger, sources *ingest.Sources) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src, ok := sources.Get(r.PathValue("id"))
		if !ok {
			httpx.Error(w, r, log, cdp.Errorf(cdp.ENOTFOUND, "source %s not found", r.PathValue("id")))
			return
		}
		httpx.WriteJSON(w, http.StatusOK, shown(r, src))
	})
}

// CreateSource serves POST /admin/v1/sources.
func CreateSource(log *slog.Logger, sources *ingest.Sources) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src, err := decodeSource(w, r)
		if err == nil {
			err = sources.Create(r.Context(), src)
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		w.Header().Set("Location", "/admin/v1/sources/"+src.ID)
		httpx.WriteJSON(w, http.StatusCreated, src)
	})
}

// UpdateSource serves PUT /admin/v1/sources/{id}.
func UpdateSource(log *slog.Logger, sources *ingest.Sources) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src, err := decodeSource(w, r)
		if err == nil {
			if src.ID == "" {
				src.ID = r.PathValue("id")
			}
			if src.ID != r.PathValue("id") {
				err = cdp.Errorf(cdp.EINVALID, "the body's id %q differs from the path's %q", src.ID, r.PathValue("id"))
			} else {
				err = sources.Update(r.Context(), src)
			}
		}
		if err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, src)
	})
}

// DeleteSource serves DELETE /admin/v1/sources/{id}.
func DeleteSource(log *slog.Logger, sources *ingest.Sources) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := sources.Delete(r.Context(), r.PathValue("id")); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
