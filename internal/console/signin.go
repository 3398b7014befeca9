package console

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyardhq/switchyard/internal/admin"
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

// SignIn serves POST /console/signin: a valid token sets the cookie
// (its hash, HttpOnly, SameSite=Strict) and goes on to next.
func (c *Console) SignIn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		token, next := strings.TrimSpace(r.PostFormValue("token")), safeNext(r.PostFormValue("next"))
		for _, t := range c.d.Tokens {
			if subtle.ConstantTimeCompare([]byte(token), []byte(t)) == 1 {
				http.SetCookie(w, &http.Cookie{Name: admin.CookieName, Value: admin.CookieValue(t), Path: "/",
					HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 30 * 24 * 3600})
				http.Redirect(w, r, next, http.StatusSeeOther)
				return
			}
		}
		problem := "That token is not one of admin.tokens."
		if len(c.d.Tokens) == 0 {
			problem = "No admin.tokens are configured: the console is open to loopback clients only."
		}
		c.render(w, r, http.StatusUnauthorized, "signin", "Sign in", signIn{Next: next, Problem: problem})
	})
}

// SignOut serves POST /console/signout.
func (c *Console) SignOut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: admin.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
	})
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
