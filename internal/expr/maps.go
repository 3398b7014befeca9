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
				it := b.(traits.Mapper).Iterator()
				for it.HasNext() == types.True {
					k := it.Next()
					out[k] = b.(traits.Mapper).Get(k)
				}
				return types.NewRefValMap(types.DefaultTypeAdapter, out)
			}))),
		cel.Function("without", cel.MemberOverload("map_without_list", []*cel.Type{mapType, cel.ListType(cel.StringType)}, mapType,
			cel.BinaryBinding(func(a, b ref.Val) ref.Val {
				drop := map[ref.Val]bool{}
				it := b.(traits.Lister).Iterator()
				for it.HasNext() == types.True {
					drop[it.Next()] = true
				}
				out, err := copyMap(a, drop, 0)
				if err != nil {
					return err
				}
				return types.NewRefValMap(types.DefaultTypeAdapter, out)
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

// copyMap copies m's entries but those in drop, with room for extra more;
// a result over MaxBuildItems is an error value.
func copyMap(m ref.Val, drop map[ref.Val]bool, extra int) (map[ref.Val]ref.Val, ref.Val) {
	n := sizeOf(m)
	if n+int64(extra) > MaxBuildItems {
		return nil, types.NewErr("%s", itemsOver(n+int64(extra)))
	}
	out := make(map[ref.Val]ref.Val, n+int64(extra))
	mapper := m.(traits.Mapper)
	it := mapper.Iterator()
	for it.HasNext() == types.True {
		k := it.Next()
		if !drop[k] {
			out[k] = mapper.Get(k)
		}
	}
	return out, nil
}
