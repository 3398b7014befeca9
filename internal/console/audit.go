package console

import (
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// auditPage is the audit trail's page: its filters and a page of entries.
type auditPage struct {
	Actor, Target string
	Entries       []*cdp.AuditEntry
	Next          string
}

// Audit serves GET /console/audit?actor=&target=&cursor=: who changed
// what, newest first.
func (c *Console) Audit() http.Handler {
	return c.page("audit", "Audit", func(r *http.Request) (any, error) {
		q := r.URL.Query()
		p := &auditPage{Actor: q.Get("actor"), Target: strings.Trim(q.Get("target"), "/")}
		var err error
		p.Entries, p.Next, err = c.d.Store.FindAudit(r.Context(), cdp.AuditFilter{Actor: p.Actor, Target: p.Target,
			Cursor: q.Get("cursor"), Limit: 100})
		return p, err
	})
}
