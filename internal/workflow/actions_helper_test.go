package workflow

import (
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/action/builtin"
)

// testActions are the action families this build ships, as the wiring
// passes them.
var testActions = builtin.Registry

// buildCall is BuildCall for an action named by kind.
func buildCall(kind string, d *Destination, in map[string]any, key string, now time.Time) (action.Call, error) {
	spec, ok := testActions.Action(kind)
	if !ok {
		return action.Call{}, fmt.Errorf("unknown action %q", kind)
	}
	return BuildCall(spec, d, in, key, now)
}
