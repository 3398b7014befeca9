package auth

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/bus/natsbus"
	"github.com/switchyardhq/switchyard/internal/cdp"
)

// A console session ends when its 12 hours pass, and when the token it
// was opened with is no longer configured.
func TestSessionLifetime(t *testing.T) {
	l, err := natsbus.Open(t.Context(), natsbus.Options{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	kv, err := l.KeyValue(t.Context(), "SESSIONS", SessionLifetime)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a := &Access{Tokens: []Token{{Name: "old", Secret: "old", Role: Admin}, {Name: "new", Secret: "new", Role: Viewer}}, Sessions: kv,
		now: func() time.Time { return now }}
	id, p, err := a.SignIn(t.Context(), "old")
	if err != nil {
		t.Fatal(err)
	}
	if p.Actor() != "console:old" || p.Role != Admin {
		t.Fatalf("signed in as %+v", p)
	}
	if _, _, err := a.SignIn(t.Context(), "wrong"); cdp.ErrorCode(err) != cdp.EUNAUTHORIZED {
		t.Fatalf("a wrong token opened a session: %v", err)
	}
	check := func() error {
		r := httptest.NewRequest("GET", "/admin/v1/runs", nil)
		r.RemoteAddr = "203.0.113.9:1"
		r.Header.Set("Cookie", CookieName+"="+id)
		_, err := a.Check(r)
		return err
	}
	if err := check(); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	now = now.Add(SessionLifetime - time.Minute)
	if err := check(); err != nil {
		t.Fatalf("session before its end: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if err := check(); cdp.ErrorCode(err) != cdp.EUNAUTHORIZED {
		t.Fatalf("session after 12 hours: %v", err)
	}
	now = time.Now()
	if err := check(); err != nil {
		t.Fatalf("session: %v", err)
	}
	a.Tokens = a.Tokens[1:] // "old" rotated out
	if err := check(); cdp.ErrorCode(err) != cdp.EUNAUTHORIZED {
		t.Fatalf("session of a removed token: %v", err)
	}
}
