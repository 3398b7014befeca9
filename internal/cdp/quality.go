package cdp

import "fmt"

// Tracking plan modes: what becomes of an event that breaks a plan.
const (
	// PlanFlag stores the event with its violations attached.
	PlanFlag = "flag"
	// PlanDrop does not store the event; the client is still answered
	// 2xx, as the original APIs answer events they filter.
	PlanDrop = "drop"
	// PlanBlock refuses the request that carried the event, in its API's
	// own error dialect.
	PlanBlock = "block"
)

// PlanModes lists the modes, mildest first.
var PlanModes = []string{PlanFlag, PlanDrop, PlanBlock}

// Violation kinds.
const (
	// ViolationSchema: the event breaks its type's JSON Schema.
	ViolationSchema = "schema"
	// ViolationUnplanned: the plan does not allow the event's type.
	ViolationUnplanned = "unplanned"
	// ViolationTransform: the source's transform failed on the event,
	// which was kept as it arrived.
	ViolationTransform = "transform"
)

// Violation is one way an event breaks a tracking plan, or the failure of
// its source's transform.
type Violation struct {
	// Plan names the tracking plan; empty for a transform's failure.
	Plan string `json:"plan,omitempty"`
	Kind string `json:"kind"`
	// Path is a JSON pointer into the event ("/properties/revenue"); empty
	// when the violation is about the whole event.
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// String is the violation as one line.
func (v Violation) String() string {
	where := v.Path
	if where == "" {
		where = "/"
	}
	if v.Plan == "" {
		return fmt.Sprintf("%s: %s", where, v.Message)
	}
	return fmt.Sprintf("tracking plan %s: %s: %s", v.Plan, where, v.Message)
}
