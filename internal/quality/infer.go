package quality

import (
	"fmt"
	"slices"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Infer writes a starting JSON Schema (draft 2020-12) for the properties
// of an event type from what the catalog observed: each path with the
// types it had (integer and number together are a number), nested
// objects and array items as their own schemas, and as required the
// properties every event carried. It describes the traffic; an owner
// tightens it (formats, enums, bounds) before making it a plan.
func Infer(t *cdp.CatalogType) map[string]any {
	root := &node{}
	for _, p := range t.Properties {
		root.add(splitPath(p.Path), p.Types)
	}
	s := root.schema(t.Events, true)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = t.Type
	events := "events"
	if t.Events == 1 {
		events = "event"
	}
	s["description"] = fmt.Sprintf("Inferred from %d %s of source %s, seen %s to %s.", t.Events, events, t.SourceID,
		t.FirstSeen.Format("2006-01-02T15:04:05Z"), t.LastSeen.Format("2006-01-02T15:04:05Z"))
	return s
}

// node is one path of the observed properties: how often it had each
// type, and its children (object keys, and "[]" for array items).
type node struct {
	types    map[string]int64
	children map[string]*node
	order    []string
}

func (n *node) add(path []string, types map[string]int64) {
	if len(path) == 0 {
		if n.types == nil {
			n.types = map[string]int64{}
		}
		for t, c := range types {
			n.types[t] += c
		}
		return
	}
	if n.children == nil {
		n.children = map[string]*node{}
	}
	child := n.children[path[0]]
	if child == nil {
		child = &node{}
		n.children[path[0]] = child
		n.order = append(n.order, path[0])
	}
	child.add(path[1:], types)
}

// schema is the node's schema; events is how many objects holding it
// were seen (its required properties appeared in all of them). Inside
// array items nothing is required: the catalog counts a path once per
// event, not per item, so it cannot tell.
func (n *node) schema(events int64, require bool) map[string]any {
	s := map[string]any{}
	var types []string
	for t := range n.types {
		if t == "integer" && n.types["number"] > 0 {
			continue
		}
		types = append(types, t)
	}
	slices.Sort(types)
	switch len(types) {
	case 0:
		s["type"] = "object" // the root
	case 1:
		s["type"] = types[0]
	default:
		s["type"] = types
	}
	objects := n.types["object"]
	if n.types == nil {
		objects = events
	}
	props := map[string]any{}
	var required []string
	for _, k := range n.order {
		child := n.children[k]
		if k == "[]" {
			s["items"] = child.schema(0, false)
			continue
		}
		props[k] = child.schema(child.count(), require)
		if require && objects > 0 && child.count() >= objects {
			required = append(required, k)
		}
	}
	if len(props) > 0 {
		s["properties"] = props
	}
	if len(required) > 0 {
		slices.Sort(required)
		s["required"] = required
	}
	return s
}

// count is how many events carried the node, whatever its type.
func (n *node) count() int64 {
	var c int64
	for _, v := range n.types {
		c += v
	}
	return c
}

// splitPath splits "items[].sku" into items, [], sku.
func splitPath(p string) []string {
	var out []string
	for _, seg := range strings.Split(p, ".") {
		items := 0
		for strings.HasSuffix(seg, "[]") {
			seg, items = strings.TrimSuffix(seg, "[]"), items+1
		}
		if seg != "" {
			out = append(out, seg)
		}
		for range items {
			out = append(out, "[]")
		}
	}
	return out
}
