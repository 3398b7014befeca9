package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		doc := `
listen: ":9000"
data_dir: /var/lib/sy
admin:
  tokens: ["${TOKEN}"]
sources:
  - id: web
    kind: track
  - id: off
    kind: track
    enabled: false
`
		cfg, err := Parse([]byte(doc), env(map[string]string{"TOKEN": "s3cr: et"}))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Admin.Tokens, []string{"s3cr: et"}; !cmp.Equal(got, want) {
			t.Fatalf("Tokens=%q, want %q", got, want)
		}
		if got, want := cfg.Listen, ":9000"; got != want {
			t.Fatalf("Listen=%q, want %q", got, want)
		}
		if got := cfg.Durability; got != DurabilityProcess {
			t.Fatalf("Durability=%q, want default %q", got, DurabilityProcess)
		}
		if got := cfg.Sources[1].Source("config").Enabled; got {
			t.Fatal("sources[1] enabled, want disabled")
		}
	})
	t.Run("EmptyDocumentIsDefault", func(t *testing.T) {
		cfg, err := Parse(nil, env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.MaxBodyBytes, int64(1<<20); got != want {
			t.Fatalf("MaxBodyBytes=%d, want %d", got, want)
		}
	})
	t.Run("ErrUnknownKey", func(t *testing.T) {
		_, err := Parse([]byte("listn: ':1'\n"), env(nil))
		if err == nil || !strings.Contains(err.Error(), "listn") {
			t.Fatalf("err=%v, want unknown field listn", err)
		}
	})
	t.Run("ErrSyntax", func(t *testing.T) {
		if _, err := Parse([]byte("listen: [\n"), env(nil)); err == nil {
			t.Fatal("want a parse error")
		}
	})
	t.Run("EnvCannotInjectStructure", func(t *testing.T) {
		cfg, err := Parse([]byte(`listen: "${L}"`), env(map[string]string{"L": "x\ndata_dir: /etc"}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DataDir != "./data" {
			t.Fatalf("DataDir=%q: an env value changed the document structure", cfg.DataDir)
		}
	})
}

func TestValidateReportsEveryProblem(t *testing.T) {
	doc := `
listen: "nope"
durability: sometimes
max_body_bytes: 0
log: {level: loud, format: xml}
admin:
  tokens: ["${MISSING_TOKEN}"]
sources:
  - id: "@internal"
    kind: track
  - id: web
    kind: carrier-pigeon
  - id: web
    kind: track
`
	cfg, err := Parse([]byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"listen:", "durability:", "max_body_bytes:", "log.level:", "log.format:",
		"admin.tokens[0]: is empty (environment variable not set: MISSING_TOKEN)",
		"sources[0].id:", `sources[1].kind: unknown source kind "carrier-pigeon"`,
		`sources[2].id: duplicates sources[1].id "web"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
