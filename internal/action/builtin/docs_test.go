package builtin

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/switchyardhq/switchyard/internal/action"
)

var update = flag.Bool("update", false, "rewrite the tables in docs/workflows.md")

const docsPath = "../../../docs/workflows.md"

// The action and destination tables of docs/workflows.md are written from
// the registry: a kind, input or setting added in code shows in the docs,
// or this test fails (go test ./internal/action/builtin -update rewrites
// them).
func TestDocsTables(t *testing.T) {
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	out := string(doc)
	for _, part := range []struct{ name, table string }{
		{"actions", actionsTable(Registry)}, {"destinations", destinationsTable(Registry)},
	} {
		begin, end := "<!-- "+part.name+": generated from the action registry -->\n", "<!-- end of "+part.name+" -->"
		i, j := strings.Index(out, begin), strings.Index(out, end)
		if i < 0 || j < i {
			t.Fatalf("docs/workflows.md lacks the markers %q … %q", begin, end)
		}
		if got := out[i+len(begin) : j]; got != part.table {
			if !*update {
				t.Errorf("docs/workflows.md's %s table is stale; run go test ./internal/action/builtin -update. Want:\n%s", part.name, part.table)
			}
			out = out[:i+len(begin)] + part.table + out[j:]
		}
	}
	if *update {
		if err := os.WriteFile(docsPath, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func actionsTable(r *action.Registry) string {
	var b strings.Builder
	b.WriteString("| action | destination | inputs (`with`; * required) | what it does |\n|---|---|---|---|\n")
	for _, s := range r.Actions() {
		var ins []string
		for _, in := range s.Inputs {
			star := ""
			if in.Required {
				star = "*"
			}
			ins = append(ins, fmt.Sprintf("`%s`%s (%s)", in.Name, star, in.Type))
		}
		dest := s.Destination
		if dest == "" {
			dest = "http (optional)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.Kind, dest, strings.Join(ins, ", "), cell(s.Description))
	}
	return b.String()
}

func destinationsTable(r *action.Registry) string {
	var b strings.Builder
	b.WriteString("| kind | settings (* required, 🔒 secret: masked wherever recorded) | what it is |\n|---|---|---|\n")
	for _, k := range r.DestinationKinds() {
		var settings []string
		for _, s := range k.Settings {
			mark := ""
			if s.Required {
				mark += "*"
			}
			if s.Secret {
				mark += " 🔒"
			}
			settings = append(settings, fmt.Sprintf("`%s`%s", s.Name, mark))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k.Kind, strings.Join(settings, ", "), cell(k.Description))
	}
	return b.String()
}

// cell escapes what would end a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
