package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every YAML example in the README and docs/ is a configuration that
// validates, as a reader would paste it (environment variables set to
// placeholders): an example that fails config validate teaches the
// wrong thing.
func TestDocExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md")
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	getenv := func(name string) string {
		switch {
		case strings.Contains(name, "URL"):
			return "https://example.com/x"
		case strings.HasSuffix(name, "WEBHOOK_SECRET"): // a Standard Webhooks secret, as providers give them
			return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		}
		return "placeholder-" + strings.ToLower(name)
	}
	n := 0
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range block.FindAllSubmatch(doc, -1) {
			n++
			path := filepath.Join(t.TempDir(), "example.yaml")
			if err := os.WriteFile(path, m[1], 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path, getenv, actions)
			if err == nil {
				err = cfg.Validate(actions)
			}
			if err != nil {
				t.Errorf("%s, YAML example %d: %v", filepath.Base(f), i+1, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no YAML examples found")
	}
}
