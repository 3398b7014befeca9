package console

import (
	"strings"
	"testing"
)

// Time-ordered ids made in the same minute share their first characters:
// lists show the random tail, which tells them apart.
func TestShortID(t *testing.T) {
	shortid := funcs["shortid"].(func(string) string)
	a, b := "01a236af-c8e4-7001-8d1e-aac572ea2832", "01a236af-c8e4-7001-9b50-a2b57459f43c"
	if shortid(a) == shortid(b) || shortid(a) != "…aac572ea2832" {
		t.Errorf("short ids %q and %q", shortid(a), shortid(b))
	}
	if shortid("web") != "web" {
		t.Errorf("a short id was cut: %q", shortid("web"))
	}
	short := funcs["short"].(func(int, string) string)
	if got := short(5, "héllo world"); got != "héll…" {
		t.Errorf("short = %q", got)
	}
}

// A workflow is shown as people write it: a CEL string literal in double
// quotes, not in YAML's doubled single quotes.
func TestAsWritten(t *testing.T) {
	got, err := asWritten(map[string]any{"method": "'POST'", "url": "event.properties.url", "multi": "a\nb'c"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `method: "'POST'"`) || strings.Contains(got, "'''") || !strings.Contains(got, "url: event.properties.url") {
		t.Fatalf("asWritten:\n%s", got)
	}
}
