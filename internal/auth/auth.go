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
// tokens, loopback clients only (as admins); with tokens, a bearer token
// or a console session opened with one that is still configured, with the
// token's role.
type Access struct {
	Tokens   []Token
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

// Wrap admits what Check admits with at least role need, answering the
// rest in the management API's dialect; h sees the principal in its
// request's context (PrincipalFrom).
func (a *Access) Wrap(log *slog.Logger, need Role, h http.Handler) http.Handler {
	return a.Authenticate(log, RequireRole(log, need, h))
}

// Authenticate admits what Check admits, whatever its role, with the
// principal in the request's context (what may sit between it and
// RequireRole sees who asked, admitted or not: the audit trail).
func (a *Access) Authenticate(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Check(r)
		switch {
		case err == nil:
			h.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		case cdp.ErrorCode(err) == cdp.EUNAUTHORIZED:
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchyard"`)
			httpx.Error(w, r, log, err)
		default:
			httpx.Error(w, r, log, err)
		}
	})
}

// RequireRole admits a request Authenticate admitted whose principal has
// role need, and answers 403 naming both roles otherwise.
func RequireRole(log *slog.Logger, need Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := Require(PrincipalFrom(r.Context()), need); err != nil {
			httpx.Error(w, r, log, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Require answers EFORBIDDEN, naming the role needed and the one held,
// unless p has role need.
func Require(p Principal, need Role) error {
	if p.Can(need) {
		return nil
	}
	return cdp.Errorf(cdp.EFORBIDDEN, "this needs the %s role; the token %q is a %s", need, p.Name, p.Role)
}

// Check reports who r acts as: EFORBIDDEN (not loopback while no tokens
// are configured), EUNAUTHORIZED (no valid token or session) or
// EUNAVAILABLE (the sessions cannot be read) if nobody.
func (a *Access) Check(r *http.Request) (Principal, error) {
	if len(a.Tokens) == 0 {
		if !httpx.ClientIP(r).IsLoopback() {
			return Principal{}, cdp.Errorf(cdp.EFORBIDDEN, "the management API serves only loopback clients until admin.tokens is configured")
		}
		return Principal{Name: loopback, Role: Admin}, nil
	}
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if tok, ok := a.token(got); ok {
			return Principal{Name: tok.Name, Role: tok.Role}, nil
		}
	}
	p, ok, err := a.SignedIn(r)
	switch {
	case err != nil:
		return Principal{}, err
	case !ok:
		return Principal{}, cdp.Errorf(cdp.EUNAUTHORIZED, "a valid bearer token is required")
	case r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get(CSRFHeader) == "":
		return Principal{}, cdp.Errorf(cdp.EFORBIDDEN, "a signed-in browser must send %s with a change", CSRFHeader)
	}
	return p, nil
}

// SignedIn returns who r's console session acts as, if it has a live one.
func (a *Access) SignedIn(r *http.Request) (Principal, bool, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || a.Sessions == nil {
		return Principal{}, false, nil
	}
	tok, ok, err := a.signedIn(r.Context(), c.Value)
	if !ok || err != nil {
		return Principal{}, false, err
	}
	return Principal{Name: tok.Name, Role: tok.Role, Session: true}, true, nil
}

// token returns the token whose secret is got, comparing with each in
// constant time.
func (a *Access) token(got string) (Token, bool) {
	var found Token
	ok := false
	for _, tok := range a.Tokens {
		if subtle.ConstantTimeCompare([]byte(got), []byte(tok.Secret)) == 1 {
			found, ok = tok, true
		}
	}
	return found, ok
}

// signedIn returns the token a live session id was opened with, if it is
// still configured (removing a token ends its sessions; changing its role
// changes theirs).
func (a *Access) signedIn(ctx context.Context, id string) (Token, bool, error) {
	raw, err := a.Sessions.Get(ctx, hash(id))
	switch {
	case cdp.ErrorCode(err) == cdp.ENOTFOUND:
		return Token{}, false, nil
	case err != nil:
		return Token{}, false, err
	}
	var s session
	if json.Unmarshal(raw, &s) != nil || !a.clock().Before(s.Expires) {
		return Token{}, false, nil
	}
	for _, tok := range a.Tokens {
		if subtle.ConstantTimeCompare([]byte(s.Token), []byte(hash(tok.Secret))) == 1 {
			return tok, true, nil
		}
	}
	return Token{}, false, nil
}

// SignIn opens a console session for secret, if it is one of the
// tokens, and returns its id (the cookie's value) and who it acts as.
func (a *Access) SignIn(ctx context.Context, secret string) (string, Principal, error) {
	tok, ok := a.token(secret)
	if !ok || a.Sessions == nil {
		return "", Principal{}, cdp.Errorf(cdp.EUNAUTHORIZED, "that token is not one of admin.tokens")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	value, _ := json.Marshal(session{Token: hash(secret), Expires: a.clock().Add(SessionLifetime)})
	if err := a.Sessions.Put(ctx, hash(id), value); err != nil {
		return "", Principal{}, err
	}
	return id, Principal{Name: tok.Name, Role: tok.Role, Session: true}, nil
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
