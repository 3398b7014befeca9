package admin

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
	"github.com/switchyardhq/switchyard/internal/resources"
)

// Resources serves the management API's routes of one kind of resource
// (destinations, alert channels, alert rules): the file's entries
// read-only, the API's versioned, secrets masked in every answer.
type Resources struct {
	Log  *slog.Logger
	Res  *resources.Resources
	Kind string // cdp.ResourceDestination …
}

// writeItem answers with it and its version as the ETag (for If-Match).
func writeItem(w http.ResponseWriter, status int, it *resources.Item) {
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(it.Version)))
	httpx.WriteJSON(w, status, it)
}

// List serves GET …: {"items": [...]}.
func (h Resources) List() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items, err := h.Res.List(h.Kind)
		if err != nil {
			httpx.Error(w, r, h.Log, err)
			return
		}
		if items == nil {
			items = []*resources.Item{}
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	})
}

// Get serves GET …/{id}.
func (h Resources) Get() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		it, err := h.Res.Get(h.Kind, r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, h.Log, err)
			return
		}
		writeItem(w, http.StatusOK, it)
	})
}

// Create serves POST …: the body is the configuration file's entry, in
// JSON or YAML; 201 with the item.
func (h Resources) Create() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readDefinition(w, r)
		var it *resources.Item
		if err == nil {
			it, err = h.Res.Save(r.Context(), h.Kind, "", body, 0)
		}
		if err != nil {
			httpx.Error(w, r, h.Log, err)
			return
		}
		writeItem(w, http.StatusCreated, it)
	})
}

// Update serves PUT …/{id}: the next version (If-Match: the version read,
// else 409 if another came in between); a secret left out, or sent back
// masked, keeps its stored value.
func (h Resources) Update() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readDefinition(w, r)
		ifVersion := 0
		if err == nil {
			ifVersion, err = ifMatch(r)
		}
		var it *resources.Item
		if err == nil {
			it, err = h.Res.Save(r.Context(), h.Kind, r.PathValue("id"), body, ifVersion)
		}
		if err != nil {
			httpx.Error(w, r, h.Log, err)
			return
		}
		writeItem(w, http.StatusOK, it)
	})
}

// Delete serves DELETE …/{id}: recorded as the last version; 409 while
// something still names it.
func (h Resources) Delete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.Res.Delete(r.Context(), h.Kind, r.PathValue("id")); err != nil {
			httpx.Error(w, r, h.Log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// Versions serves GET …/{id}/versions: {"versions": [...]}, oldest first.
func (h Resources) Versions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := h.Res.Versions(r.Context(), h.Kind, r.PathValue("id"))
		if err != nil {
			httpx.Error(w, r, h.Log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"versions": list})
	})
}

// readDefinition reads a resource's definition (JSON or YAML).
func readDefinition(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := httpx.ReadBody(w, r, maxBody)
	if err == nil && len(bytes.TrimSpace(body)) == 0 {
		err = cdp.Errorf(cdp.EINVALID, "the body must be the configuration file's entry, in JSON or YAML")
	}
	return body, err
}
