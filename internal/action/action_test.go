package action

import (
	"slices"
	"strings"
	"testing"
)

var testFamily = Family{
	Destination: &DestinationKind{Kind: "thing", Settings: []Setting{
		{Name: "url", Required: true}, {Name: "token", Secret: true},
	}, Secrets: func(d *Destination) []string { return []string{"derived-" + d.Get("token")} }},
	Actions: []*Spec{{Kind: "thing.do", Destination: "thing", Inputs: []Input{{Name: "x", Type: String, Required: true}}}},
}

// A destination's problems name each setting: required ones missing,
// settings its kind does not have, and an unknown kind.
func TestCheck(t *testing.T) {
	r := NewRegistry(testFamily)
	p := r.Check(&Destination{Kind: "thing", Settings: map[string]string{"site_id": "s"}})
	if !strings.Contains(p["url"], "required") || !strings.Contains(p["site_id"], "not a setting of kind thing (its settings: url, token)") {
		t.Errorf("problems %v", p)
	}
	if p := r.Check(&Destination{Kind: "fax"}); !strings.Contains(p["kind"], "must be one of thing") {
		t.Errorf("unknown kind: %v", p)
	}
	if p := r.Check(&Destination{Kind: "thing", Settings: map[string]string{"url": "https://x"}}); len(p) != 0 {
		t.Errorf("a good one: %v", p)
	}
}

// Secrets are the secret settings, the credentials in any URL setting and
// what the kind derives; other settings are not.
func TestSecrets(t *testing.T) {
	r := NewRegistry(testFamily)
	got := r.Secrets(&Destination{Kind: "thing", Settings: map[string]string{"url": "https://user:pw@host/x", "token": "t0k"}})
	for _, want := range []string{"t0k", "user", "pw", "derived-t0k"} {
		if !slices.Contains(got, want) {
			t.Errorf("secrets %q lack %q", got, want)
		}
	}
	if slices.Contains(got, "https://user:pw@host/x") {
		t.Errorf("a plain url setting counted as a secret: %q", got)
	}
	if r.Secrets(&Destination{Kind: "fax"}) != nil {
		t.Error("secrets of an unknown kind")
	}
}

// Registering one kind twice is a programming error.
func TestNewRegistryRefusesDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewRegistry(testFamily, Family{Actions: testFamily.Actions})
}

func TestSpecInput(t *testing.T) {
	s := testFamily.Actions[0]
	if in, ok := s.Input("x"); !ok || !in.Required {
		t.Fatalf("%+v %v", in, ok)
	}
	if _, ok := s.Input("y"); ok {
		t.Fatal("an input that is not there")
	}
	var d *Destination
	if d.Get("url") != "" {
		t.Fatal("no destination has settings")
	}
}
