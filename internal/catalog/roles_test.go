package catalog

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the roles table in docs/api.md")

const apiDoc = "../../docs/api.md"

// The roles table of docs/api.md is written from the catalogue the server
// routes by: a route added, or a role changed, shows in the docs or this
// test fails (go test ./internal/catalog -update rewrites it).
func TestRolesTable(t *testing.T) {
	doc, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("| route | role |\n|---|---|\n")
	for _, op := range managementOperations() {
		fmt.Fprintf(&b, "| `%s %s` | %s |\n", op.Method, op.Path, op.Role)
	}
	begin, end := "<!-- roles: generated from the route catalogue -->\n", "<!-- end of roles -->"
	out := string(doc)
	i, j := strings.Index(out, begin), strings.Index(out, end)
	if i < 0 || j < i {
		t.Fatalf("docs/api.md lacks the markers %q … %q", begin, end)
	}
	if out[i+len(begin):j] == b.String() {
		return
	}
	if !*update {
		t.Fatalf("docs/api.md's roles table is stale; run go test ./internal/catalog -update. Want:\n%s", b.String())
	}
	out = out[:i+len(begin)] + b.String() + out[j:]
	if err := os.WriteFile(apiDoc, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}
