// Package body is the stored encoding of what no column holds: both
// stores (SQLite and PostgreSQL) keep an event's and a run's remaining
// fields as this JSON, so the two read and write the same shape.
package body

import (
	"encoding/json"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/packed"
)

// Event is the part of an event that no column holds.
type Event struct {
	OriginalTimestamp *time.Time       `json:"ot,omitempty"`
	Properties        json.RawMessage  `json:"p"`
	Context           json.RawMessage  `json:"c"`
	Traits            json.RawMessage  `json:"tr,omitempty"`
	Tags              []string         `json:"tg,omitempty"`
	Error             string           `json:"e,omitempty"`
	UserID            string           `json:"u,omitempty"`
	UserAgent         string           `json:"ua,omitempty"`
	Identifiers       []cdp.Identifier `json:"i,omitempty"`
	Op                string           `json:"op,omitempty"`
	ReplayOf          string           `json:"ro,omitempty"`
	Violations        []cdp.Violation  `json:"v,omitempty"`
}

// EncodeEvent returns e's body, packed.
func EncodeEvent(e *cdp.Event) ([]byte, error) {
	data, err := json.Marshal(Event{OriginalTimestamp: e.OriginalTimestamp, Properties: e.Properties, Context: e.Context,
		Traits: e.Traits, Tags: e.Tags, Error: e.Error, UserID: e.UserID, UserAgent: e.UserAgent,
		Identifiers: e.Identifiers, Op: e.Op, ReplayOf: e.ReplayOf, Violations: e.Violations})
	if err != nil {
		return nil, err
	}
	return packed.Pack(data), nil
}

// DecodeEvent fills e's fields from its stored body.
func DecodeEvent(data []byte, e *cdp.Event) error {
	data, err := packed.Unpack(data)
	if err != nil {
		return err
	}
	var b Event
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	e.UserID, e.UserAgent, e.Identifiers, e.Op, e.ReplayOf, e.Violations = b.UserID, b.UserAgent, b.Identifiers, b.Op, b.ReplayOf, b.Violations
	e.OriginalTimestamp, e.Properties, e.Context, e.Traits, e.Tags, e.Error = b.OriginalTimestamp, b.Properties, b.Context, b.Traits, b.Tags, b.Error
	return nil
}

// Run is the part of a run that no column holds.
type Run struct {
	WorkflowVersion int           `json:"wv"`
	Steps           []cdp.StepRun `json:"s"`
	Error           string        `json:"e,omitempty"`
	TraceParent     string        `json:"t,omitempty"`
	OrderKey        string        `json:"o,omitempty"`
	DebounceKey     string        `json:"d,omitempty"`
	Event           *cdp.Event    `json:"ev,omitempty"` // carried from the archive
}

// EncodeRun returns r's body.
func EncodeRun(r *cdp.Run) ([]byte, error) {
	return json.Marshal(Run{WorkflowVersion: r.WorkflowVersion, Steps: r.Steps, Error: r.Error, TraceParent: r.TraceParent, OrderKey: r.OrderKey,
		DebounceKey: r.DebounceKey, Event: r.Event})
}

// DecodeRun fills r's fields from its stored body.
func DecodeRun(data []byte, r *cdp.Run) error {
	var b Run
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	r.WorkflowVersion, r.Steps, r.Error, r.TraceParent = b.WorkflowVersion, b.Steps, b.Error, b.TraceParent
	r.OrderKey, r.DebounceKey, r.Event = b.OrderKey, b.DebounceKey, b.Event
	return nil
}
