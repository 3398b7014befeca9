package workflow

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Frequency limits how often one person starts a run of a workflow:
// `once` (ever) or `{once_per: 24h}`. It is decided in the transaction
// that would create the run, by a claim in the store, so that two events
// of one person (on two nodes, or in one batch) never both start one.
type Frequency struct {
	Once    bool
	OncePer time.Duration
}

// frequencyDoc is the object form.
type frequencyDoc struct {
	OncePer string `json:"once_per" yaml:"once_per"`
}

func (f *Frequency) set(word string, doc *frequencyDoc) error {
	switch {
	case doc == nil && strings.TrimSpace(word) == "once":
		*f = Frequency{Once: true}
		return nil
	case doc == nil:
		return fmt.Errorf("frequency: %q is not once or {once_per: DURATION}", word)
	}
	d, err := time.ParseDuration(doc.OncePer)
	if err != nil || d <= 0 {
		return fmt.Errorf("frequency.once_per: %q is not a positive duration such as 24h", doc.OncePer)
	}
	*f = Frequency{OncePer: d}
	return nil
}

// UnmarshalJSON reads "once" or {"once_per": "24h"}.
func (f *Frequency) UnmarshalJSON(b []byte) error {
	var word string
	if json.Unmarshal(b, &word) == nil {
		return f.set(word, nil)
	}
	var doc frequencyDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("frequency: %s is not once or {once_per: DURATION}", b)
	}
	return f.set("", &doc)
}

// UnmarshalYAML reads once or {once_per: 24h}.
func (f *Frequency) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return f.set(n.Value, nil)
	}
	var doc frequencyDoc
	if err := n.Decode(&doc); err != nil {
		return fmt.Errorf("frequency: not once or {once_per: DURATION}")
	}
	return f.set("", &doc)
}

func (f Frequency) form() any {
	if f.Once {
		return "once"
	}
	return frequencyDoc{OncePer: f.OncePer.String()}
}

// MarshalJSON writes the form it was read in.
func (f Frequency) MarshalJSON() ([]byte, error) { return json.Marshal(f.form()) }

// MarshalYAML writes the form it was read in.
func (f Frequency) MarshalYAML() (any, error) { return f.form(), nil }

// until is when a run started now lets the person start the next: nil
// for never.
func (f *Frequency) until(now time.Time) *time.Time {
	if f.Once {
		return nil
	}
	t := now.Add(f.OncePer)
	return &t
}
