package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/switchyardhq/switchyard/internal/action"
)

// Load reads the YAML file at path over Default(). ${VAR} references in any
// value are replaced with getenv(VAR) before decoding. Unknown keys and
// values of the wrong type are reported together, each with its YAML path
// and line. Load does not validate: call Validate.
func Load(path string, getenv func(string) string, actions *action.Registry) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, getenv, actions)
}

// Parse is Load for a document already in memory.
func Parse(data []byte, getenv func(string) string, actions *action.Registry) (*Config, error) {
	cfg := Default()
	cfg.unset = map[string]string{}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	if root.Kind == 0 { // empty document
		return cfg, nil
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse config: line %d: the file must be a mapping of keys (listen:, sources:, …)", doc.Line)
	}
	expand(doc, "", getenv, cfg.unset)
	l := &loader{paths: map[int]string{}, actions: actions}
	l.check(doc, reflect.TypeFor[Config](), "")
	if err := doc.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("parse config: %w", err)
		}
		for _, msg := range te.Errors {
			l.add(l.typeError(msg))
		}
	}
	if len(l.problems) > 0 {
		// The rest of the file decoded: report its other problems too,
		// except on the paths already reported.
		slices.SortStableFunc(l.problems, func(a, b problem) int { return a.line - b.line })
		var msgs, others []string
		for _, p := range l.problems {
			msgs = append(msgs, p.msg)
		}
		for _, p := range cfg.problems(actions) {
			path, _, _ := strings.Cut(p, ": ")
			if !slices.ContainsFunc(msgs, func(m string) bool { return strings.HasPrefix(m, path+" (") }) {
				others = append(others, p)
			}
		}
		slices.Sort(others)
		return nil, errors.New("invalid configuration:\n  " + strings.Join(append(msgs, others...), "\n  "))
	}
	return cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} in every scalar value (never in keys), so that a
// secret containing YAML syntax cannot change the document's structure,
// and notes at its path each variable that is not set. An expanded value
// is typed as if it had been written plainly (port: ${PORT} is a number).
func expand(n *yaml.Node, path string, getenv func(string) string, unset map[string]string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if !envRef.MatchString(n.Value) {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := ref[2 : len(ref)-1]
			v := getenv(name)
			if v == "" && !slices.Contains(strings.Split(unset[path], ", "), name) {
				unset[path] = strings.TrimPrefix(unset[path]+", "+name, ", ")
			}
			return v
		})
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
			n.Tag = "" // resolved again from the expanded value
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expand(n.Content[i+1], join(path, n.Content[i].Value), getenv, unset)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expand(c, fmt.Sprintf("%s[%d]", path, i), getenv, unset)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// loader collects the problems of one document, and the YAML path of the
// value on each line (type errors from the decoder name only the line).
type loader struct {
	problems []problem
	paths    map[int]string
	actions  *action.Registry // knows each destination kind's settings
}

type problem struct {
	line int
	msg  string
}

func (l *loader) add(line int, msg string) { l.problems = append(l.problems, problem{line, msg}) }

// check walks the node against the Go type it decodes into and reports
// every key that type does not have, with a suggestion when one is close.
func (l *loader) check(n *yaml.Node, t reflect.Type, path string) {
	if path != "" {
		l.paths[n.Line] = path // the innermost value on the line names it
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		settings, anySetting := l.settings(n, t)
		for name := range settings {
			if _, clash := fields[name]; !clash {
				fields[name] = reflect.TypeFor[string]()
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			ft, ok := fields[key.Value]
			if !ok && anySetting {
				ft, ok = reflect.TypeFor[string](), true
			}
			if !ok {
				l.add(key.Line, fmt.Sprintf("%s (line %d): unknown key %q%s", join(path, key.Value), key.Line, key.Value, suggest(key.Value, fields)))
				continue
			}
			l.check(n.Content[i+1], ft, join(path, key.Value))
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, c := range n.Content {
			l.check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// settings returns the keys a destination takes beyond its struct's
// fields: its kind's settings (see Destination.Settings). anySetting is
// true when the kind is unknown, which is reported on its own.
func (l *loader) settings(n *yaml.Node, t reflect.Type) (names map[string]bool, anySetting bool) {
	if t != reflect.TypeFor[Destination]() || l.actions == nil {
		return nil, false
	}
	kind := ""
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kind = n.Content[i+1].Value
		}
	}
	k, ok := l.actions.DestinationKind(kind)
	if !ok {
		return nil, true
	}
	names = map[string]bool{}
	for _, s := range k.Settings {
		names[s.Name] = true
	}
	return names, false
}

// yamlFields maps a struct's YAML keys to their types; an inline field's
// keys are its own business (settings).
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || opts == "inline" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// suggest names the known key closest to an unknown one, if it is close.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if d := distance(strings.ToLower(key), name); d < bestDist || (d <= len(name)/2 && bestDist == 3 && strings.Contains(name, strings.ToLower(key))) {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return "; known keys here: " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var typeErr = regexp.MustCompile("^line (\\d+): cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")

// typeError rewrites the decoder's message ("cannot unmarshal !!str `abc`
// into int64") in the file's terms: the path, the line, what was written
// and what the key takes.
func (l *loader) typeError(msg string) (int, string) {
	m := typeErr.FindStringSubmatch(msg)
	if m == nil {
		return 0, msg
	}
	line, _ := strconv.Atoi(m[1])
	where := fmt.Sprintf("line %d", line)
	if path := l.paths[line]; path != "" {
		where = fmt.Sprintf("%s (line %d)", path, line)
	}
	tag := strings.TrimPrefix(m[2], "!!")
	kind, ok := yamlKinds[tag]
	if !ok {
		kind = "tagged " + m[2]
	}
	return line, fmt.Sprintf("%s: %s is %s, but this key takes %s", where, shown(tag, m[3]), kind, goKind(m[4]))
}

func shown(tag, value string) string {
	switch tag {
	case "map", "seq":
		return "the value"
	}
	return strconv.Quote(value)
}

var yamlKinds = map[string]string{"str": "text", "int": "a number", "float": "a number", "bool": "true/false",
	"map": "a mapping (key: value lines)", "seq": "a list", "null": "empty", "timestamp": "a date"}

// goKind says what a Go type accepts, in the words of a YAML file.
func goKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a mapping (key: value lines)"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool", goType == "*bool":
		return "true or false"
	case goType == "string":
		return "text"
	}
	return "a mapping (key: value lines)" // a struct
}
