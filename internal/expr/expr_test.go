package expr

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileAndEval(t *testing.T) {
	env := MustEnv(Var{"body", Dyn}, Var{"headers", StringLists})
	vars := map[string]any{
		"body":    map[string]any{"type": "invoice.paid", "n": 3.0, "data": map[string]any{"id": 42.0, "tags": []any{"a"}}},
		"headers": map[string][]string{"webhook-id": {"msg_1"}},
	}
	ctx := context.Background()
	for src, want := range map[string]any{
		"body.type":                 "invoice.paid",
		"headers['webhook-id'][0]":  "msg_1",
		"body.data":                 map[string]any{"id": 42.0, "tags": []any{"a"}},
		"body.type.split('.')[0]":   "invoice",
		"has(body.missing) ? 1 : 2": int64(2),
		"body.n > 2.0":              true,
		"null":                      nil,
	} {
		p, err := env.Compile(src, Any)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := p.Eval(ctx, vars)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", src, diff)
		}
	}
	p, _ := env.Compile("body.data.id", String)
	if s, err := p.EvalString(ctx, vars); err != nil || s != "42" {
		t.Errorf("EvalString number = %q, %v", s, err)
	}
	p, _ = env.Compile("body.missing", String)
	if _, err := p.EvalString(ctx, vars); err == nil || !strings.Contains(err.Error(), "no such key") {
		t.Errorf("missing key error = %v", err)
	}
}

func TestCompileErrors(t *testing.T) {
	env := MustEnv(Var{"body", Dyn}, Var{"headers", StringLists})
	for src, want := range map[string]string{
		"":                        "empty",
		"body.":                   "Syntax error",
		"nope == 1":               "undeclared reference to 'nope'",
		"headers['x']":            "must produce a string",
		"1 + 1":                   "must produce a string",
		strings.Repeat("a", 5000): "size",
	} {
		_, err := env.Compile(src, String)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%.20q) = %v, want %q", src, err, want)
		}
	}
	if _, err := env.Compile("headers.size() > 0", Bool); err != nil {
		t.Errorf("bool expression: %v", err)
	}
}

func TestCostLimit(t *testing.T) {
	env := MustEnv(Var{"body", Dyn})
	p, err := env.Compile("body.all(x, body.all(y, body.all(z, x + y + z > 0)))", Bool)
	if err != nil {
		t.Fatal(err)
	}
	var list []any
	for i := range 200 {
		list = append(list, float64(i+1))
	}
	if _, err := p.EvalBool(context.Background(), map[string]any{"body": list}); err == nil || !strings.Contains(err.Error(), "cost limit") && !strings.Contains(err.Error(), "longer than") { // on a busy machine the deadline may come first
		t.Errorf("err = %v, want cost limit exceeded", err)
	}
}

// Uses names the variables an expression reads, not functions or fields
// (a comprehension's own variable may count too: it errs on reading).
func TestUses(t *testing.T) {
	env := MustEnv(Var{"body", Dyn}, Var{"headers", StringLists}, Var{"size", Dyn})
	p, err := env.Compile("body.size > 2 && size(headers) > 0 && [1].exists(x, x > 0)", Bool)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Uses("body") || !p.Uses("headers") || p.Uses("size") || p.Uses("data") {
		t.Fatalf("uses %v", p.uses)
	}
}

// A literal written where an expression is expected gets a hint that
// names the fix; an expression with a mistake does not.
func TestLiteralHint(t *testing.T) {
	env := MustEnv(Var{Name: "event", Type: Object})
	for src, hint := range map[string]string{
		"/v1/things":             `did you mean "'/v1/things'"`,
		"https://example.com/x":  `did you mean "'https://example.com/x'"`,
		"POST":                   `did you mean "'POST'"`,
		"event.type ==":          "",
		"evnt.type == 'x'":       "",
		"'unterminated":          "",
		"size(event.properties)": "",
	} {
		_, err := env.Compile(src, Any)
		if err == nil {
			if hint != "" {
				t.Errorf("%q compiled", src)
			}
			continue
		}
		if got := err.Error(); (hint == "") != !strings.Contains(got, "a literal is written quoted") || (hint != "" && !strings.Contains(got, hint)) {
			t.Errorf("%q: %s; want hint %q", src, got, hint)
		}
	}
}
