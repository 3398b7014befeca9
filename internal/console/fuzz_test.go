package console

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext: whatever next= a link carries, the sign-in redirect stays
// on this server's console (no other host, scheme or path).
func FuzzSafeNext(f *testing.F) {
	for _, seed := range []string{"/console/runs?x=1", "//evil.example/", "/console/\\evil", "https://evil.example/console/",
		"/console/../admin", "/console//evil.example", "/console/%2F%2Fevil", "javascript:alert(1)", "/console/\t/evil"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/console/") ||
			strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves the console", next, got)
		}
	})
}
