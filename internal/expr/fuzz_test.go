package expr

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzCompile compiles whatever a user could type and evaluates what
// compiles over a large event: compiling never panics, and an evaluation
// ends quickly, by result or by error.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{"event.type == 'x'", "lists.range(300).map(i, event.properties.s).join('')",
		"event.properties.s.replace('a', event.properties.s)", "'%s'.format([event])", "event.properties.s.split('')",
		"has(event.a) ? event.a : [1,2][5]", "json.encode(event)", "((((((((((1))))))))))", "event.properties.s + event.properties.s"} {
		f.Add(seed)
	}
	env := MustEnv(Var{"event", Object})
	big := strings.Repeat("ab,", 300_000)
	vars := map[string]any{"event": map[string]any{"type": "x", "properties": map[string]any{"s": big, "n": 1.5}}}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := env.Compile(src, Any)
		if err != nil {
			return
		}
		start := time.Now()
		_, _ = p.Eval(context.Background(), vars)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("%q took %v", src, took)
		}
	})
}
