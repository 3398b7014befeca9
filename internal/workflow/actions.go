package workflow

import (
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
)

// Destination is a configured destination: where an action sends, with
// which credentials and pacing.
type Destination = action.Destination

// noDestination is what an http.call step without a destination sends
// through: no base URL, the default pacing.
var noDestination = &Destination{ID: "http", Kind: "http"}

// BuildCall builds the request of an action from its evaluated inputs.
// key is the attempt-independent idempotency key of this step of this run:
// Customer.io's event id, the webhook-id of webhook.send, the
// Idempotency-Key header of http.call, so that a retried attempt (or a
// step resumed after a crash) cannot act twice where the receiver honours
// it. now signs webhooks.
func BuildCall(spec *action.Spec, d *Destination, in map[string]any, key string, now time.Time) (action.Call, error) {
	if spec == nil {
		return action.Call{}, fmt.Errorf("not an action step")
	}
	return spec.Build(d, in, key, now)
}

func has(in map[string]any, key string) bool {
	_, ok := in[key]
	return ok
}
