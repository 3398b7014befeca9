package console

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchyardhq/switchyard/internal/auth"
	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/httpx"
)

// SignInPage serves GET /console/signin.
func (c *Console) SignInPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusOK, "signin", "Sign in", signIn{Next: safeNext(r.URL.Query().Get("next"))})
	})
}

type signIn struct {
	Next, Problem string
}

// SignIn serves POST /console/signin: a valid token opens a session on the
// server (12 hours) whose random id is the cookie (HttpOnly,
// SameSite=Strict, Secure when the browser came over TLS), then goes on
// to next. Attempts are limited per client address, so that tokens cannot
// be guessed at speed.
func (c *Console) SignIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		token, next := strings.TrimSpace(r.PostFormValue("token")), safeNext(r.PostFormValue("next"))
		if wait, ok := c.attempts.allow(httpx.ClientIP(r)); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+1)))
			c.render(w, r, http.StatusTooManyRequests, "signin", "Sign in", signIn{Next: next,
				Problem: "Too many sign-in attempts from your address: wait a minute and try again."})
			return
		}
		id, p, err := c.d.Access.SignIn(r.Context(), token)
		switch {
		case err == nil:
			c.d.Audit.Record(r.Context(), r, p.Actor(), "sign_in", "", http.StatusSeeOther, nil)
			http.SetCookie(w, &http.Cookie{Name: auth.CookieName, Value: id, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: httpx.IsHTTPS(r), MaxAge: int(auth.SessionLifetime.Seconds())})
			http.Redirect(w, r, next, http.StatusSeeOther)
		case cdp.ErrorCode(err) != cdp.EUNAUTHORIZED:
			c.fail(w, r, err)
		default:
			c.d.Audit.Record(r.Context(), r, "anonymous", "sign_in", "", http.StatusUnauthorized, nil)
			problem := "That token is not one of admin.tokens."
			if len(c.d.Access.Tokens) == 0 {
				problem = "No admin.tokens are configured: the console is open to loopback clients only."
			}
			c.render(w, r, http.StatusUnauthorized, "signin", "Sign in", signIn{Next: next, Problem: problem})
		}
	})
}

// SignOut serves POST /console/signout: the session ends on the server
// (every node), not only in this browser.
func (c *Console) SignOut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, signedIn, _ := c.d.Access.SignedIn(r)
		if err := c.d.Access.SignOut(r.Context(), r); err != nil {
			c.fail(w, r, err)
			return
		}
		if signedIn {
			c.d.Audit.Record(r.Context(), r, p.Actor(), "sign_out", "", http.StatusSeeOther, nil)
		}
		http.SetCookie(w, &http.Cookie{Name: auth.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: httpx.IsHTTPS(r)})
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
	})
}

// attempts limits sign-in attempts per client address: 5 at once, then
// one every 12 s. Its memory is bounded: past maxClients addresses, those
// whose allowance is full again are forgotten first.
type attempts struct {
	mu      sync.Mutex
	clients map[netip.Addr]*rate.Limiter
}

const maxClients = 10_000

func newAttempts() *attempts { return &attempts{clients: map[netip.Addr]*rate.Limiter{}} }

func (a *attempts) allow(ip netip.Addr) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.clients[ip]
	if !ok {
		if len(a.clients) >= maxClients {
			a.forget()
		}
		l = rate.NewLimiter(rate.Every(12*time.Second), 5)
		a.clients[ip] = l
	}
	res := l.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return d, false
	}
	return 0, true
}

// forget drops the addresses that could try 5 times again anyway, or
// everyone when none can (many addresses at once).
func (a *attempts) forget() {
	for ip, l := range a.clients {
		if l.Tokens() >= 5 {
			delete(a.clients, ip)
		}
	}
	if len(a.clients) >= maxClients {
		clear(a.clients)
	}
}

// safeNext keeps a redirect target inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsFunc(next, func(r rune) bool {
		return r == '\\' || r < ' ' || r == 0x7f // browsers drop tabs and newlines, which could join a "//"
	}) {
		return "/console/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" {
		return "/console/"
	}
	return next
}
