package expr

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// CEL builds maps but cannot change one: these two make the reshaping a
// transform or a mapping does (rename a field, drop a PII field) one call
// instead of a comprehension.
//
//	m.with({'total': m.amount})  a copy of m with the keys of the argument set
//	m.without(['email', 'phone']) a copy of m without those keys
//
// Both build at most MaxBuildItems entries.
func mapFunctions() []cel.EnvOption {
	mapType := cel.MapType(cel.StringType, cel.DynType)
	return []cel.EnvOption{
		cel.Function("with", cel.MemberOverload("map_with_map", []*cel.Type{mapType, mapType}, mapType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				out, err := copyMap(a, nil, int(sizeOf(b)))
				if err != nil {
					return err
				}
				add := b.(traits.Mapper)
				for it := add.Iterator(); it.HasNext() == types.True; {
					k := it.Next()
					key, ok := k.(types.String)
					if !ok {
						return types.NewErr("with: keys must be strings, not %s", k.Type())
					}
					out[string(key)] = add.Get(k)
				}
				return types.DefaultTypeAdapter.NativeToValue(out)
			}))),
		cel.Function("without", cel.MemberOverload("map_without_list", []*cel.Type{mapType, cel.ListType(cel.StringType)}, mapType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				drop := map[string]bool{}
				for it := b.(traits.Lister).Iterator(); it.HasNext() == types.True; {
					if s, ok := it.Next().(types.String); ok {
						drop[string(s)] = true
					}
				}
				out, err := copyMap(a, drop, 0)
				if err != nil {
					return err
				}
				return types.DefaultTypeAdapter.NativeToValue(out)
			}))),
	}
}

func sizeOf(v ref.Val) int64 {
	if s, ok := v.(traits.Sizer); ok {
		if n, ok := s.Size().(types.Int); ok {
			return int64(n)
		}
	}
	return 0
}

// copyMap copies m's entries but those in drop, with room for extra more,
// as a Go map whose values are Go values (when m is one, as the event's
// properties are: copied as they are, not converted) or CEL values, which
// the adapter takes alike; a result over MaxBuildItems is an error value.
func copyMap(m ref.Val, drop map[string]bool, extra int) (map[string]any, ref.Val) {
	n := sizeOf(m)
	if n+int64(extra) > MaxBuildItems {
		return nil, types.NewErr("%s", itemsOver(n+int64(extra)))
	}
	out := make(map[string]any, n+int64(extra))
	if native, ok := m.Value().(map[string]any); ok {
		for k, v := range native {
			if !drop[k] {
				out[k] = v
			}
		}
		return out, nil
	}
	mapper := m.(traits.Mapper)
	for it := mapper.Iterator(); it.HasNext() == types.True; {
		k := it.Next()
		key, ok := k.(types.String)
		if !ok {
			return nil, types.NewErr("keys must be strings, not %s", k.Type())
		}
		if !drop[string(key)] {
			out[string(key)] = mapper.Get(k)
		}
	}
	return out, nil
}
