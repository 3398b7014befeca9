package console

import "testing"

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
