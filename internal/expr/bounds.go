package expr

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// CEL's cost limit counts steps, not bytes: a few functions build a value
// far larger than their cost says. lists.range(300).map(i, s).join(”) over
// a 1 MB string costs a few hundred units and allocates 300 MB. So every
// function that can build a large string or list checks, before it runs,
// how large its result would be, and an evaluation that loops has a
// deadline besides its cost limit.
const (
	// MaxBuildBytes caps a string or bytes value one function call builds
	// (join, replace, format, quote). Concatenation with + is charged by
	// the size of its result instead (concatCost).
	MaxBuildBytes = 2 << 20
	// MaxBuildItems caps the elements of a list one call builds.
	MaxBuildItems = 100_000
)

// evalTimeout bounds an evaluation with comprehensions (map, filter, all,
// exists, …), the only place CEL checks for interruption.
var evalTimeout = 100 * time.Millisecond

// sizeCheck inspects a call's arguments (receiver first) and says why the
// call must not run, or "".
type sizeCheck func(args []ref.Val) string

// bounded lists the overloads that are checked, by function name and
// overload id; the ids are cel-go's own.
var bounded = []struct {
	function  string
	overloads []string
	check     sizeCheck
}{
	{"join", []string{"list_join", "list_join_string"}, checkJoin},
	{"replace", []string{"string_replace_string_string", "string_replace_string_string_int"}, checkReplace},
	{"format", []string{"string_format"}, func(a []ref.Val) string {
		return bytesOver(valueSize(a[0], MaxBuildBytes) + valueSize(a[1], MaxBuildBytes))
	}},
	{"strings.quote", []string{"strings_quote"}, func(a []ref.Val) string { return bytesOver(2 * valueSize(a[0], MaxBuildBytes)) }},
	{"lists.range", []string{"lists_range"}, func(a []ref.Val) string { return itemsOver(int64(intOf(a[0]))) }},
	{"split", []string{"string_split_string", "string_split_string_int"}, checkSplit},
}

// boundedFunctions redeclares env's size-amplifying overloads with the same
// signatures, each checking its arguments before calling the original.
func boundedFunctions(env *cel.Env) ([]cel.EnvOption, error) {
	var opts []cel.EnvOption
	fns := env.Functions()
	for _, name := range unusable {
		if fn, ok := fns[name]; ok {
			fopts := []cel.FunctionOpt{cel.DisableDeclaration(true)}
			for _, od := range fn.OverloadDecls() {
				fopts = append(fopts, cel.Overload(od.ID(), od.ArgTypes(), od.ResultType()))
			}
			opts = append(opts, cel.Function(name, fopts...))
		}
	}
	for _, b := range bounded {
		fn, ok := fns[b.function]
		if !ok {
			continue // the library version in use does not declare it
		}
		impls, err := fn.Bindings()
		if err != nil {
			return nil, err
		}
		for _, id := range b.overloads {
			for _, od := range fn.OverloadDecls() {
				if od.ID() != id {
					continue
				}
				impl := findImpl(impls, id)
				if impl == nil {
					return nil, fmt.Errorf("cel function %s: no implementation of %s", b.function, id)
				}
				binding := cel.FunctionBinding(guarded(b.function, b.check, impl))
				decl := cel.Overload(id, od.ArgTypes(), od.ResultType(), binding)
				if od.IsMemberFunction() {
					decl = cel.MemberOverload(id, od.ArgTypes(), od.ResultType(), binding)
				}
				opts = append(opts, cel.Function(b.function, decl))
			}
		}
	}
	return opts, nil
}

func findImpl(impls []*functions.Overload, id string) *functions.Overload {
	for _, o := range impls {
		if o.Operator == id {
			return o
		}
	}
	return nil
}

func guarded(name string, check sizeCheck, impl *functions.Overload) functions.FunctionOp {
	return func(args ...ref.Val) ref.Val {
		if why := check(args); why != "" {
			return types.NewErr("%s: %s", name, why)
		}
		switch {
		case len(args) == 1 && impl.Unary != nil:
			return impl.Unary(args[0])
		case len(args) == 2 && impl.Binary != nil:
			return impl.Binary(args[0], args[1])
		case impl.Function != nil:
			return impl.Function(args...)
		}
		return types.NewErr("%s: no implementation for %d arguments", name, len(args))
	}
}

func bytesOver(n int64) string {
	if n > MaxBuildBytes {
		return fmt.Sprintf("the result would exceed %d bytes, the limit of a value an expression builds", MaxBuildBytes)
	}
	return ""
}

func itemsOver(n int64) string {
	if n > MaxBuildItems {
		return fmt.Sprintf("the result would have more than %d elements, the limit of a list an expression builds", MaxBuildItems)
	}
	return ""
}

func checkJoin(a []ref.Val) string {
	n := valueSize(a[0], MaxBuildBytes)
	if len(a) > 1 {
		n += length(a[0]) * valueSize(a[1], MaxBuildBytes)
	}
	return bytesOver(n)
}

// checkReplace works out the replaced string's exact length: cheap next to
// building it.
func checkReplace(a []ref.Val) string {
	s, old, repl := stringOf(a[0]), stringOf(a[1]), stringOf(a[2])
	if len(repl) <= len(old) {
		return ""
	}
	count := int64(strings.Count(s, old))
	if len(a) > 3 {
		if n := int64(intOf(a[3])); n >= 0 && n < count {
			count = n
		}
	}
	return bytesOver(int64(len(s)) + count*int64(len(repl)-len(old)))
}

func checkSplit(a []ref.Val) string {
	s, sep := stringOf(a[0]), stringOf(a[1])
	parts := int64(strings.Count(s, sep)) + 1
	if sep == "" {
		parts = int64(utf8.RuneCountInString(s))
	}
	if len(a) > 2 {
		if n := int64(intOf(a[2])); n >= 0 && n < parts {
			parts = n
		}
	}
	return itemsOver(parts)
}

func stringOf(v ref.Val) string {
	s, _ := v.(types.String)
	return string(s)
}

func intOf(v ref.Val) int64 {
	i, _ := v.(types.Int)
	return int64(i)
}

func length(v ref.Val) int64 {
	if s, ok := v.(traits.Sizer); ok {
		if n, ok := s.Size().(types.Int); ok {
			return int64(n)
		}
	}
	return 0
}

// valueSize is about how many bytes v takes as text (strings and bytes by
// length, scalars as 8, containers as the sum of their parts), counted
// only until it passes limit: a list of a thousand references to one large
// string is as large as a thousand copies once joined or encoded.
func valueSize(v ref.Val, limit int64) int64 {
	var n int64
	var walk func(v ref.Val)
	walk = func(v ref.Val) {
		if n > limit {
			return
		}
		switch v := v.(type) {
		case types.String:
			n += int64(len(v))
		case types.Bytes:
			n += int64(len(v))
		case traits.Mapper:
			for it := v.Iterator(); it.HasNext() == types.True && n <= limit; {
				k := it.Next()
				walk(k)
				walk(v.Get(k))
			}
		case traits.Lister:
			for it := v.Iterator(); it.HasNext() == types.True && n <= limit; {
				walk(it.Next())
				n++
			}
		default:
			n += 8
		}
	}
	walk(v)
	return n
}

// concatCost charges a concatenation a unit for every 10 bytes it builds
// (CEL's own charge, a unit per 100, let a chain of + over a large string
// build hundreds of megabytes within the cost limit): the cost limit then
// stops repeated concatenation after about 10 MB. Every other call keeps
// CEL's own cost.
type concatCost struct{}

func (concatCost) CallCost(function, _ string, _ []ref.Val, result ref.Val) *uint64 {
	if function != "_+_" {
		return nil
	}
	var n uint64
	switch v := result.(type) {
	case types.String:
		n = uint64(len(v))
	case types.Bytes:
		n = uint64(len(v))
	case traits.Sizer:
		n = uint64(length(result)) * 10
	default:
		return nil
	}
	n = n/10 + 1
	return &n
}

// unusable are encoder functions whose cost CEL cannot bound: any call
// exceeds every cost limit, after doing its work (json.encode of a large
// value first builds it). They are left undeclared, so an expression that
// names one fails when it is compiled, not at every event.
var unusable = []string{"json.encode", "json.parse", "yaml.encode", "yaml.parse"}

// loops reports whether an expression has a comprehension: only those can
// run long enough to need a deadline.
func loops(a *cel.Ast) bool {
	nav := ast.NavigateAST(a.NativeRep())
	return len(ast.MatchDescendants(nav, ast.KindMatcher(ast.ComprehensionKind))) > 0
}

// deadline gives an evaluation that loops its time limit.
func (p *Program) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if !p.loops {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, evalTimeout)
}
