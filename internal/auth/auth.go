// Package auth decides who may use the management API and the console:
// loopback clients until admin tokens are configured, then a bearer token
// or a console sign-in (a session every node sees). The management API
// and the console both ask it.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
)

// CookieName is the console's sign-in cookie. Its value is a random
// session id; the session, which names the token it was opened with, is
// kept on the server (Sessions), so signing out ends it everywhere.
const CookieName = "switchyard_console"

// CSRFHeader must accompany a cookie-authenticated request that changes
// anything: a browser sends a custom header only from the page's own
// origin (the management API answers no CORS preflight), so another site
// cannot make a signed-in browser act.
const CSRFHeader = "X-Switchyard-Console"

// SessionLifetime is how long a console sign-in lasts.
const SessionLifetime = 12 * time.Hour

// Sessions keeps the console's sign-ins where every node sees them (a
// key-value bucket beside the event log whose entries expire after
// SessionLifetime). Get answers ENOTFOUND for an unknown or expired key.
type Sessions interface {
	Put(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// Access decides who may use the management API and the console: with no
// tokens, loopback clients only; with tokens, a bearer token or a console
// session opened with one that is still configured.
type Access struct {
	Tokens   []string
	Sessions Sessions
	now      func() time.Time
}

// session is what Sessions holds for a sign-in, under the SHA-256 of its
// id (so the store never holds a usable cookie).
type session struct {
	Token   string    `json:"token"` // SHA-256 of the token it was opened with
	Expires time.Time `json:"expires"`
}

func (a *Access) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

// Wrap admits what Check admits, answering the rest in the management
// API's dialect.
func (a *Access) Wrap(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch err := a.Check(r); {
		case err == nil:
			h.ServeHTTP(w, r)
		case cdp.ErrorCode(err) == cdp.EUNAUTHORIZED:
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
			httpx.Error(w, r, log, err)
		default:
			httpx.Error(w, r, log, err)
		}
	})
}

// Check reports whether r may use the management API and the console:
// nil, EFORBIDDEN (not loopback while no tokens are configured),
// EUNAUTHORIZED (no valid token or session) or EUNAVAILABLE (the
// sessions cannot be read).
func (a *Access) Check(r *http.Request) error {
	if len(a.Tokens) == 0 {
		if !httpx.ClientIP(r).IsLoopback() {
			return cdp.Errorf(cdp.EFORBIDDEN, "the management API serves only loopback clients until admin.tokens is configured")
		}
		return nil
	}
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && a.token(got) {
		return nil
	}
	if c, err := r.Cookie(CookieName); err == nil && a.Sessions != nil {
		ok, err := a.signedIn(r.Context(), c.Value)
		if err != nil {
			return err
		}
		if ok {
			if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get(CSRFHeader) == "" {
				return cdp.Errorf(cdp.EFORBIDDEN, "a signed-in browser must send %s with a change", CSRFHeader)
			}
			return nil
		}
	}
	return cdp.Errorf(cdp.EUNAUTHORIZED, "a valid bearer token is required")
}

// token reports whether got is one of the tokens, in constant time.
func (a *Access) token(got string) bool {
	ok := false
	for _, tok := range a.Tokens {
		ok = subtle.ConstantTimeCompare([]byte(got), []byte(tok)) == 1 || ok
	}
	return ok
}

// signedIn reports whether id names a live session opened with a token
// that is still configured (removing a token ends its sessions).
func (a *Access) signedIn(ctx context.Context, id string) (bool, error) {
	raw, err := a.Sessions.Get(ctx, hash(id))
	switch {
	case cdp.ErrorCode(err) == cdp.ENOTFOUND:
		return false, nil
	case err != nil:
		return false, err
	}
	var s session
	if json.Unmarshal(raw, &s) != nil || !a.clock().Before(s.Expires) {
		return false, nil
	}
	for _, tok := range a.Tokens {
		if subtle.ConstantTimeCompare([]byte(s.Token), []byte(hash(tok))) == 1 {
			return true, nil
		}
	}
	return false, nil
}

// SignIn opens a console session for token, if it is one of the tokens,
// and returns its id (the cookie's value).
func (a *Access) SignIn(ctx context.Context, token string) (string, error) {
	if !a.token(token) || a.Sessions == nil {
		return "", cdp.Errorf(cdp.EUNAUTHORIZED, "that token is not one of admin.tokens")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	value, _ := json.Marshal(session{Token: hash(token), Expires: a.clock().Add(SessionLifetime)})
	if err := a.Sessions.Put(ctx, hash(id), value); err != nil {
		return "", err
	}
	return id, nil
}

// SignOut ends the session r's cookie names, on every node.
func (a *Access) SignOut(ctx context.Context, r *http.Request) error {
	c, err := r.Cookie(CookieName)
	if err != nil || a.Sessions == nil {
		return nil
	}
	return a.Sessions.Delete(ctx, hash(c.Value))
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
