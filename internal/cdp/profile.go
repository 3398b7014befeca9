package cdp

import (
	"encoding/json"
	"strings"
	"time"
)

// Identifier kinds. A profile has at most one id, email and cio_id, and any
// number of anonymous ids; each identifier belongs to at most one profile.
const (
	IdentifierID          = "id"
	IdentifierEmail       = "email"
	IdentifierCioID       = "cio_id"
	IdentifierAnonymousID = "anonymous_id"
)

// Identifier is one way to recognise a person.
type Identifier struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// NewIdentifier normalises value for kind (emails are compared without
// case; a cio_id may carry Customer.io's "cio_" prefix, as its API paths
// write it) and validates both.
func NewIdentifier(kind, value string) (Identifier, error) {
	value = strings.TrimSpace(value)
	switch kind {
	case IdentifierEmail:
		value = strings.ToLower(value)
	case IdentifierCioID:
		value = strings.TrimPrefix(value, "cio_")
	case IdentifierID, IdentifierAnonymousID:
	default:
		return Identifier{}, Errorf(EINVALID, "unknown identifier kind %q (want id, email, cio_id or anonymous_id)", kind)
	}
	if value == "" {
		return Identifier{}, Errorf(EINVALID, "identifier %s is empty", kind)
	}
	return Identifier{Kind: kind, Value: value}, nil
}

// ParseIdentifier parses the KIND:VALUE form used by the management API.
func ParseIdentifier(s string) (Identifier, error) {
	kind, value, ok := strings.Cut(s, ":")
	if !ok {
		return Identifier{}, Errorf(EINVALID, "identifier %q is not KIND:VALUE", s)
	}
	return NewIdentifier(kind, value)
}

// String returns the KIND:VALUE form.
func (i Identifier) String() string { return i.Kind + ":" + i.Value }

// Identifiers are a profile's known identifiers, as shown to API callers.
type Identifiers struct {
	ID           string   `json:"id,omitempty"`
	Email        string   `json:"email,omitempty"`
	CioID        string   `json:"cio_id,omitempty"`
	AnonymousIDs []string `json:"anonymous_ids"`
}

// Add records ident and reports whether that changed anything; for
// single-valued kinds it replaces the old value.
func (ids *Identifiers) Add(ident Identifier) bool {
	set := func(field *string) bool {
		changed := *field != ident.Value
		*field = ident.Value
		return changed
	}
	switch ident.Kind {
	case IdentifierID:
		return set(&ids.ID)
	case IdentifierEmail:
		return set(&ids.Email)
	case IdentifierCioID:
		return set(&ids.CioID)
	case IdentifierAnonymousID:
		for _, a := range ids.AnonymousIDs {
			if a == ident.Value {
				return false
			}
		}
		ids.AnonymousIDs = append(ids.AnonymousIDs, ident.Value)
		return true
	}
	return false
}

// List returns every identifier as a list.
func (ids Identifiers) List() []Identifier {
	var out []Identifier
	if ids.ID != "" {
		out = append(out, Identifier{IdentifierID, ids.ID})
	}
	if ids.Email != "" {
		out = append(out, Identifier{IdentifierEmail, ids.Email})
	}
	if ids.CioID != "" {
		out = append(out, Identifier{IdentifierCioID, ids.CioID})
	}
	for _, a := range ids.AnonymousIDs {
		out = append(out, Identifier{IdentifierAnonymousID, a})
	}
	return out
}

// Device is a push device registered for a profile.
type Device struct {
	ID         string          `json:"id"`
	Platform   string          `json:"platform,omitempty"`
	LastUsed   *time.Time      `json:"last_used,omitempty"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
}

// DeviceProperty is the property of a device event that names its device
// when the event's other properties are the client's own (the Data
// Pipelines API); they are then the device's attributes.
const DeviceProperty = "device"

// DeviceOf reads the device a device event applies to: its properties are
// the device itself, or the client's properties with the device under
// DeviceProperty.
func DeviceOf(props json.RawMessage) (Device, bool) {
	var wrapped map[string]json.RawMessage
	if json.Unmarshal(props, &wrapped) != nil {
		return Device{}, false
	}
	var d Device
	if raw, ok := wrapped[DeviceProperty]; ok && json.Unmarshal(raw, &d) == nil && d.ID != "" {
		delete(wrapped, DeviceProperty)
		if len(wrapped) > 0 {
			d.Attributes, _ = json.Marshal(wrapped)
		}
		return d, true
	}
	d = Device{}
	if json.Unmarshal(props, &d) != nil || d.ID == "" {
		return Device{}, false
	}
	return d, true
}

// ProfileStats are counters the processor keeps as events arrive.
type ProfileStats struct {
	Events int64 `json:"events"`
	Visits int64 `json:"visits"`
	// LastVisitAt and CurrentVisitAt roll on every new session, as
	// Tracardi's metadata.time.visit.last/current do.
	LastVisitAt    *time.Time `json:"last_visit_at,omitempty"`
	CurrentVisitAt *time.Time `json:"current_visit_at,omitempty"`
}

// Profile is one person (or anonymous visitor) and what is known about them.
type Profile struct {
	ID          string         `json:"id"`
	Identifiers Identifiers    `json:"identifiers"`
	Traits      map[string]any `json:"traits"`
	// TraitsAt is, for each trait, the time of the event that set it (the
	// event's own timestamp): an older event, arriving late from a
	// client's offline queue or replayed, does not overwrite it.
	TraitsAt   map[string]time.Time `json:"traits_at,omitempty"`
	MergedIDs  []string             `json:"merged_ids"`
	Devices    []Device             `json:"devices"`
	Segments   []string             `json:"segments"`
	Suppressed bool                 `json:"suppressed"`
	CreatedAt  time.Time            `json:"created_at"`
	UpdatedAt  time.Time            `json:"updated_at"`
	Stats      ProfileStats         `json:"stats"`
	// Version increases on every stored change; updates carry the version
	// they read so that concurrent writers cannot overwrite each other.
	Version int64 `json:"-"`
}

// NewProfile returns an empty profile created at now.
func NewProfile(id string, now time.Time) *Profile {
	return &Profile{
		ID:          id,
		Identifiers: Identifiers{AnonymousIDs: []string{}},
		Traits:      map[string]any{},
		MergedIDs:   []string{},
		Devices:     []Device{},
		Segments:    []string{},
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

// Normalize replaces nil collections with empty ones, so that JSON shows
// [] and {} rather than null whatever path built the profile.
func (p *Profile) Normalize() {
	if p.Identifiers.AnonymousIDs == nil {
		p.Identifiers.AnonymousIDs = []string{}
	}
	if p.Traits == nil {
		p.Traits = map[string]any{}
	}
	if p.MergedIDs == nil {
		p.MergedIDs = []string{}
	}
	if p.Devices == nil {
		p.Devices = []Device{}
	}
	if p.Segments == nil {
		p.Segments = []string{}
	}
}
