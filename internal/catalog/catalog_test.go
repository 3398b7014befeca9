package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/switchyardhq/switchyard/internal/action/builtin"
)

// roundTrip encodes a document as the server does and decodes it as a
// client would.
func roundTrip(t *testing.T, d Doc) any {
	t.Helper()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func validate(t *testing.T, schemaFile string, doc any) {
	t.Helper()
	if err := check(t, schemaFile, doc); err != nil {
		t.Fatalf("the document does not validate against %s:\n%v", schemaFile, err)
	}
	// The validator is not vacuous: a broken document fails.
	broken := map[string]any{}
	for k, v := range doc.(map[string]any) {
		broken[k] = v
	}
	broken["info"] = map[string]any{"title": 42}
	if check(t, schemaFile, broken) == nil {
		t.Fatalf("%s accepted a broken document", schemaFile)
	}
}

func check(t *testing.T, schemaFile string, doc any) error {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", schemaFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaFile, schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(doc)
}

// refsResolve checks every local $ref of doc points at something.
func refsResolve(t *testing.T, doc any) int {
	t.Helper()
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				n++
				target := doc
				for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
					obj, _ := target.(map[string]any)
					target = obj[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
				}
				if target == nil || !strings.HasPrefix(r, "#/") {
					t.Errorf("$ref %q does not resolve", r)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	return n
}

// testPlanned is a declared event type whose schema refers to its own
// definitions, as plans' schemas may.
var testPlanned = Planned{Plan: "orders", Mode: "block", Type: "Order Completed", Sources: []string{"web"}, Properties: map[string]any{
	"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": map[string]any{"money": map[string]any{"type": "number", "minimum": 0}},
	"type": "object", "required": []any{"revenue"}, "properties": map[string]any{"revenue": map[string]any{"$ref": "#/$defs/money"}}}}

func TestAsyncAPIValidates(t *testing.T) {
	doc := roundTrip(t, AsyncAPI("test", "127.0.0.1:8686", testPlanned))
	validate(t, "asyncapi-3.0.0.schema.json", doc)
	if n := refsResolve(t, doc); n < 100 {
		t.Errorf("only %d refs", n)
	}
	root := doc.(map[string]any)
	channels := root["channels"].(map[string]any)
	// Every Customer.io report type and every stored event type has its
	// message, named by the event type.
	names := map[string]bool{}
	for _, ch := range []string{"webhooks", "events"} {
		for key, r := range channels[ch].(map[string]any)["messages"].(map[string]any) {
			target := r.(map[string]any)["$ref"].(string)
			msg := root["components"].(map[string]any)["messages"].(map[string]any)[strings.TrimPrefix(target, "#/components/messages/")]
			names[ch+":"+msg.(map[string]any)["name"].(string)] = true
			if !regexp.MustCompile(`^[\w\d.\-_]+$`).MatchString(key) {
				t.Errorf("message key %q", key)
			}
		}
	}
	// The declared type's message carries the plan's schema, its own
	// references rebased into the document.
	if !names["events:Order Completed"] {
		t.Error("the planned type has no message")
	}
	declared := root["components"].(map[string]any)["schemas"].(map[string]any)["planned_orders_Order_Completed"].(map[string]any)
	if declared["properties"].(map[string]any)["revenue"].(map[string]any)["$ref"] != "#/components/schemas/planned_orders_Order_Completed/$defs/money" || declared["$schema"] != nil {
		t.Errorf("declared schema %v", declared)
	}
	for _, typ := range ReportTypes() {
		if !names["webhooks:"+typ] || !names["events:"+typ] {
			t.Errorf("report type %s is missing a message", typ)
		}
	}
	for _, et := range EventTypes() {
		if !names["events:"+et.Name] {
			t.Errorf("event type %s is missing", et.Name)
		}
	}
	if len(ReportTypes()) != 69 {
		t.Errorf("%d report types, want the 69 of Customer.io's documentation", len(ReportTypes()))
	}
	// Every registered action kind is an operation with its inputs.
	ops := root["operations"].(map[string]any)
	schemas := root["components"].(map[string]any)["schemas"].(map[string]any)
	for _, kind := range builtin.Registry.ActionKinds() {
		id := "action_" + strings.ReplaceAll(kind, ".", "_")
		if ops["send_"+id] == nil || schemas["ActionInputs."+kind] == nil {
			t.Errorf("action %s is missing from the AsyncAPI document", kind)
		}
	}
	if req := schemas["ActionInputs.slack.post"].(map[string]any)["required"]; fmt.Sprint(req) != "[text]" {
		t.Errorf("slack.post's required inputs: %v", req)
	}
}

func TestOpenAPIValidates(t *testing.T) {
	doc := roundTrip(t, OpenAPI("test", "http://127.0.0.1:8686"))
	validate(t, "openapi-3.1.schema.json", doc)
	refsResolve(t, doc)
	paths := doc.(map[string]any)["paths"].(map[string]any)
	if paths["/webhooks/{source}"].(map[string]any)["post"] == nil || len(paths) < 40 {
		t.Errorf("%d paths", len(paths))
	}
}

// TestReferenceParsers runs the AsyncAPI and OpenAPI projects' own parsers
// over the documents, when they are installed (.ci/run installs them).
func TestReferenceParsers(t *testing.T) {
	modules := os.Getenv("SWITCHYARD_TEST_NODE_MODULES")
	if modules == "" {
		t.Skip("set SWITCHYARD_TEST_NODE_MODULES to a node_modules with @asyncapi/parser and @readme/openapi-parser (.ci/run does)")
	}
	dir := t.TempDir()
	for name, d := range map[string]Doc{"asyncapi.json": AsyncAPI("test", "127.0.0.1:8686", testPlanned), "openapi.json": OpenAPI("test", "http://127.0.0.1:8686")} {
		data, _ := json.Marshal(d)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script, _ := filepath.Abs("testdata/validate.mjs")
	cmd := exec.Command("node", script, filepath.Join(dir, "asyncapi.json"), filepath.Join(dir, "openapi.json"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Dir = filepath.Dir(modules)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reference parsers: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// ReportTypes returns every Customer.io reporting event type, sorted.
func ReportTypes() []string {
	var types []string
	for object, metrics := range reportMetrics {
		for _, m := range metrics {
			types = append(types, object+"_"+m)
		}
	}
	slices.Sort(types)
	return types
}
