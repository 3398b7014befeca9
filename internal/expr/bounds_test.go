package expr

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Expressions that build far more than their cost says end at once with a
// clear error and without growing memory; the same functions still work
// on ordinary input.
func TestBoundedEvaluation(t *testing.T) {
	env := MustEnv(Var{"event", Object})
	big := strings.Repeat("a", 1<<20)
	vars := map[string]any{"event": map[string]any{"properties": map[string]any{"s": big, "small": "a,b"}}}
	for _, src := range []string{
		"lists.range(300).map(i, event.properties.s).join('').size() > 0",
		"lists.range(1000).map(i, event.properties.s).join('').size() > 0",
		"lists.range(1000).map(i, event.properties.s).join(',').size() > 0",
		"event.properties.s.replace('a', 'bb').size() > 0",
		"event.properties.s.replace('a', event.properties.s).size() > 0",
		"lists.range(100000000).size() > 0",
		"event.properties.s.split('').size() > 0",
		"'%s'.format([lists.range(1000).map(i, event)]).size() > 0",
		"'%s'.format([lists.range(1000).map(i, event.properties.s)]).size() > 0",
		"(" + strings.Repeat("event.properties.s + ", 20) + "'').size() > 0",
		"lists.range(1000).map(i, [event.properties.s, event.properties.s].join('')).size() > 0",
		"lists.range(1000).map(i, event.properties.s + 'x').size() > 0",
		"lists.range(1000).map(i, lists.range(90000)).size() > 0",
		"lists.range(1000).all(j, lists.range(1000).all(i, i >= 0))",
	} {
		p, err := env.Compile(src, Bool)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err = p.EvalBool(context.Background(), vars)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		grew := int64(after.TotalAlloc-before.TotalAlloc) >> 20
		t.Logf("%s: %v in %v, %d MB allocated", src, err, took, grew)
		if err == nil {
			t.Errorf("%s: evaluated without an error", src)
		}
		if took > 2*time.Second || grew > 50 { // generous: -race and a shared machine slow it
			t.Errorf("%s: took %v and allocated %d MB before it stopped", src, took, grew)
		}
	}
	if _, err := env.Compile("json.encode(event)", Any); err == nil {
		t.Error("json.encode compiles, though no call of it fits in the cost limit")
	}
	for src, want := range map[string]any{
		"['a', 'b'].join('-')":                             "a-b",
		"event.properties.small.split(',')":                []any{"a", "b"},
		"'x'.replace('x', 'yy')":                           "yy",
		"lists.range(3)":                                   []any{0.0, 1.0, 2.0},
		"'%s!'.format([event.properties.small])":           "a,b!",
		"size(event.properties.s + 'x')":                   int64(1<<20 + 1),
		"event.properties.small + '-' + 'c'":               "a,b-c",
		"[1, 2] + [3]":                                     []any{1.0, 2.0, 3.0},
		"lists.range(10).map(i, i * 2).exists(x, x == 18)": true,
	} {
		p, err := env.Compile(src, Any)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := p.Eval(context.Background(), vars)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", src, diff)
		}
	}
}

// An evaluation that loops is stopped at its deadline, even within its
// cost limit.
func TestEvalDeadline(t *testing.T) {
	defer func(d time.Duration) { evalTimeout = d }(evalTimeout)
	evalTimeout = time.Millisecond
	env := MustEnv(Var{"event", Object})
	p, err := env.Compile("lists.range(90000).map(i, lists.range(10).exists(j, j == i)).size() > 0", Bool)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.EvalBool(context.Background(), map[string]any{"event": map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), "longer than 1ms") {
		t.Fatalf("err = %v after %v, want the deadline's", err, time.Since(start))
	}
	// Without loops there is no deadline to pay for.
	if p, _ := env.Compile("event.x == 1", Bool); p.loops {
		t.Error("a loop-free expression counted as looping")
	}
}
