package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// The audit trail is found newest first, by actor, by target (with what
// is under it, and nothing that only starts alike), by time, a page at a
// time; entries past the retention are deleted.
func testAudit(t *testing.T, s cdp.Store) {
	ctx := t.Context()
	entries := []struct{ actor, target string }{
		{"token:ci", "sources/web"}, {"token:ci", "sources/web/x"}, {"console:ops", "sources/webhook"},
		{"token:ci", "workflows/w"}, {"console:ops", "sources/web"}, {"anonymous", ""},
	}
	for i, e := range entries {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := s.InsertAudit(ctx, &cdp.AuditEntry{ID: IDAt(at, i), At: at, Actor: e.actor, Action: "PUT /admin/v1/x",
			Target: e.target, Status: 200, Summary: json.RawMessage(`{"name":"n"}`), RemoteAddr: "203.0.113.1"}); err != nil {
			t.Fatal(err)
		}
	}
	find := func(f cdp.AuditFilter) []string {
		t.Helper()
		got, _, err := s.FindAudit(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range got {
			out = append(out, e.Actor+" "+e.Target)
		}
		return out
	}
	for _, c := range []struct {
		f    cdp.AuditFilter
		want string
	}{
		{cdp.AuditFilter{}, "[anonymous  console:ops sources/web token:ci workflows/w console:ops sources/webhook token:ci sources/web/x token:ci sources/web]"},
		{cdp.AuditFilter{Actor: "token:ci"}, "[token:ci workflows/w token:ci sources/web/x token:ci sources/web]"},
		{cdp.AuditFilter{Target: "sources/web"}, "[console:ops sources/web token:ci sources/web/x token:ci sources/web]"},
		{cdp.AuditFilter{Target: "sources"}, "[console:ops sources/web console:ops sources/webhook token:ci sources/web/x token:ci sources/web]"},
		{cdp.AuditFilter{Since: t0.Add(2 * time.Minute), Until: t0.Add(4 * time.Minute)}, "[token:ci workflows/w console:ops sources/webhook]"},
	} {
		if got := fmt.Sprint(find(c.f)); got != c.want {
			t.Errorf("FindAudit(%+v) = %s, want %s", c.f, got, c.want)
		}
	}
	page, cursor, err := s.FindAudit(ctx, cdp.AuditFilter{Limit: 4})
	if err != nil || len(page) != 4 || cursor == "" {
		t.Fatalf("first page: %d, %q, %v", len(page), cursor, err)
	}
	rest, cursor, err := s.FindAudit(ctx, cdp.AuditFilter{Limit: 4, Cursor: cursor})
	if err != nil || len(rest) != 2 || cursor != "" || rest[1].Target != "sources/web" || string(rest[1].Summary) != `{"name":"n"}` ||
		rest[1].Status != 200 || !rest[1].At.Equal(t0) || rest[1].RemoteAddr != "203.0.113.1" {
		t.Fatalf("second page: %+v, %q, %v", rest, cursor, err)
	}
	n, err := s.DeleteAuditBefore(ctx, t0.Add(3*time.Minute), 2)
	if err != nil || n != 2 {
		t.Fatalf("deleted %d: %v", n, err)
	}
	n, err = s.DeleteAuditBefore(ctx, t0.Add(3*time.Minute), 100)
	if err != nil || n != 1 {
		t.Fatalf("deleted %d more: %v", n, err)
	}
	if got := find(cdp.AuditFilter{}); len(got) != 3 {
		t.Fatalf("after the retention: %v", got)
	}
}
