// Package expr compiles and evaluates the CEL expressions users write in
// source definitions, tail filters and workflows. Expressions are parsed
// and type-checked once, when their owner is loaded, so that a mistake is
// reported with its location before any event arrives; evaluation is then
// cheap and bounded three ways: a cost limit, a cap on the size of what
// one function builds, and a deadline (bounds.go), so that a costly
// expression over a large input cannot stall the caller or fill memory.
package expr

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
)

// Limits on every expression: its source size, and the runtime cost of one
// evaluation (Kubernetes' per-call budget, about 0.1 s of CPU).
const (
	maxSourceBytes = 4096
	costLimit      = 1_000_000
)

// Types of the variables an environment declares.
var (
	Dyn = cel.DynType
	// StringLists is the type of HTTP headers and query parameters: a map
	// from the (lower-case) name to every value it was given.
	StringLists = cel.MapType(cel.StringType, cel.ListType(cel.StringType))
	// Object is a JSON object.
	Object = cel.MapType(cel.StringType, cel.DynType)
	// Objects is a list of JSON objects.
	Objects = cel.ListType(Object)
	// Timestamp is an instant (now).
	Timestamp = cel.TimestampType
)

// Env declares the variables expressions may use.
type Env struct{ env *cel.Env }

// Var declares one variable.
type Var struct {
	Name string
	Type *cel.Type
}

// NewEnv returns an environment with vars and CEL's standard extensions
// for strings, encoders, math and lists.
func NewEnv(vars ...Var) (*Env, error) {
	opts := []cel.EnvOption{ext.Strings(), ext.Encoders(), ext.Math(), ext.Lists(),
		cel.ParserExpressionSizeLimit(maxSourceBytes)}
	opts = append(opts, mapFunctions()...)
	for _, v := range vars {
		opts = append(opts, cel.Variable(v.Name, v.Type))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	guards, err := boundedFunctions(env)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	if env, err = env.Extend(guards...); err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	return &Env{env: env}, nil
}

// MustEnv is NewEnv for environments declared at package level.
func MustEnv(vars ...Var) *Env {
	env, err := NewEnv(vars...)
	if err != nil {
		panic(err)
	}
	return env
}

// Program is a compiled expression, safe for concurrent use.
type Program struct {
	src   string
	prg   cel.Program
	uses  map[string]bool // the variables the expression reads
	loops bool            // it has comprehensions: evaluations get a deadline
}

// Output kinds a caller may require of an expression.
type Output int

const (
	Any Output = iota
	Bool
	String
	// Time is a duration or a timestamp (a wait).
	Time
)

// Compile parses and type-checks src and requires its result to be of kind
// out (a dyn result is accepted and checked at evaluation). The error is
// CEL's own message, which names the line and column.
func (e *Env) Compile(src string, out Output) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("expression is empty")
	}
	ast, iss := e.env.Compile(src)
	if iss.Err() != nil {
		return nil, errors.New(strings.TrimSpace(iss.Err().Error()) + literalHint(src, iss.Err().Error()))
	}
	got := ast.OutputType()
	want := map[Output]*cel.Type{Bool: cel.BoolType, String: cel.StringType}[out]
	if want != nil && !got.IsAssignableType(want) && got != cel.DynType {
		return nil, fmt.Errorf("expression must produce a %s, not a %s", want, got)
	}
	if out == Time && got != cel.DurationType && got != cel.TimestampType && got != cel.DynType {
		return nil, fmt.Errorf("expression must produce a duration or a timestamp, not a %s", got)
	}
	prg, err := e.env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit), cel.CostTracking(concatCost{}),
		cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("program: %w", err)
	}
	uses := map[string]bool{}
	for _, ref := range ast.NativeRep().ReferenceMap() {
		if ref.Name != "" && len(ref.OverloadIDs) == 0 {
			uses[ref.Name] = true
		}
	}
	return &Program{src: src, prg: prg, uses: uses, loops: loops(ast)}, nil
}

var bareWord = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// literalHint suggests quoting src when it looks like a literal written
// where an expression is expected: a path or URL (url: /v1/things), or a
// lone word CEL does not know (method: POST). Expressions that merely
// have a mistake get no hint.
func literalHint(src, msg string) string {
	s := strings.TrimSpace(src)
	if strings.ContainsAny(s, `'"`+"`") {
		return ""
	}
	word := bareWord.MatchString(s) && strings.Contains(msg, "undeclared reference")
	if !strings.HasPrefix(s, "/") && !strings.Contains(s, "://") && !word {
		return ""
	}
	return fmt.Sprintf(" (a literal is written quoted inside the expression: did you mean %q?)", "'"+s+"'")
}

// Uses reports whether the expression reads variable name, so that a
// caller can skip fetching what no expression reads. It errs towards
// true: a comprehension variable of that name counts as a use.
func (p *Program) Uses(name string) bool { return p != nil && p.uses[name] }

// String returns the expression's source.
func (p *Program) String() string { return p.src }

// Eval evaluates the expression over vars and returns its result as plain
// Go values (JSON-like: maps, slices, strings, numbers, bools, nil).
func (p *Program) Eval(ctx context.Context, vars map[string]any) (any, error) {
	val, err := p.eval(ctx, vars)
	if err != nil {
		return nil, err
	}
	return native(val)
}

// eval runs the program within its deadline.
func (p *Program) eval(ctx context.Context, vars map[string]any) (ref.Val, error) {
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	val, _, err := p.prg.ContextEval(ctx, vars)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("expression took longer than %v and was stopped", evalTimeout)
	}
	return val, err
}

// EvalBool evaluates an expression that must produce a bool.
func (p *Program) EvalBool(ctx context.Context, vars map[string]any) (bool, error) {
	val, err := p.eval(ctx, vars)
	if err != nil {
		return false, err
	}
	b, ok := val.(types.Bool)
	if !ok {
		return false, fmt.Errorf("expression produced a %s, not a bool", val.Type())
	}
	return bool(b), nil
}

// EvalString evaluates an expression that must produce a string; numbers
// are formatted, so that an integer id can serve as a key.
func (p *Program) EvalString(ctx context.Context, vars map[string]any) (string, error) {
	v, err := p.Eval(ctx, vars)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case int64, uint64, float64:
		return fmt.Sprint(v), nil
	case nil:
		return "", errors.New("expression produced null, not a string")
	}
	return "", fmt.Errorf("expression produced a %T, not a string", v)
}

// native converts a CEL value to JSON-like Go values through CEL's own
// JSON conversion, so that nested maps and lists come out plain, as
// encoding/json would decode them.
func native(val ref.Val) (any, error) {
	switch v := val.(type) {
	case types.String:
		return string(v), nil
	case types.Bool:
		return bool(v), nil
	case types.Int:
		return int64(v), nil
	case types.Null:
		return nil, nil
	}
	return toJSON(val)
}
