package customerio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Track API v2 limits: a batch request, and each of its items.
const (
	maxBatchBytes = 500_000
	maxItemBytes  = 32_000
)

// batching joins Track calls (events on a person, identify, delete) into
// one POST /api/v2/batch. Customer.io answers 207 when some items were
// invalid and the rest accepted, naming each invalid one by its index:
// those fail (an invalid item stays invalid), the others succeed.
var batching = &action.Batching{
	MaxBytes: maxBatchBytes,
	Join: func(d *action.Destination, _ string, parts []action.Part, _ string) (httpclient.Request, error) {
		return workspace(d).trackRequest(http.MethodPost, "/api/v2/batch", map[string]json.RawMessage{"batch": action.JSONArray(parts)})
	},
	Split: splitBatch,
}

// splitBatch reads a 207's errors: each names its item by batch_index.
func splitBatch(status int, body []byte, n int) []action.Result {
	if status != http.StatusMultiStatus {
		return nil
	}
	var answer struct {
		Errors []struct {
			BatchIndex *int   `json:"batch_index"`
			Reason     string `json:"reason"`
			Field      string `json:"field"`
			Message    string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &answer) != nil {
		return nil
	}
	out := make([]action.Result, n)
	for i := range out {
		out[i].Outcome = httpclient.Succeeded
	}
	for _, e := range answer.Errors {
		if e.BatchIndex == nil || *e.BatchIndex < 0 || *e.BatchIndex >= n {
			continue
		}
		msg := strings.TrimSpace(strings.Join([]string{e.Reason, e.Field, e.Message}, " "))
		out[*e.BatchIndex] = action.Result{Outcome: httpclient.Permanent, Error: "Customer.io refused this item of the batch: " + msg}
	}
	return out
}

// v2Identifiers is a v1 identifier as Track v2 names a person: cio_<id>
// is a cio_id, anything with an @ an email, the rest an id.
func v2Identifiers(identifier string) map[string]string {
	identifier = strings.TrimSpace(identifier)
	switch {
	case strings.HasPrefix(identifier, "cio_"):
		return map[string]string{"cio_id": strings.TrimPrefix(identifier, "cio_")}
	case strings.Contains(identifier, "@"):
		return map[string]string{"email": identifier}
	}
	return map[string]string{"id": identifier}
}

// part is a Track v2 entity as a batch item, or nil when it cannot be one
// (too large: it goes alone, through v1).
func part(entity map[string]any) (*action.Part, error) {
	data, err := json.Marshal(entity)
	if err != nil {
		return nil, fmt.Errorf("encode the batch item: %w", err)
	}
	if len(data) > maxItemBytes {
		return nil, nil
	}
	return &action.Part{Data: data}, nil
}

// eventPart is a person's event as a v2 batch item; an anonymous event
// has no v2 form here and goes alone.
func eventPart(e Event) (*action.Part, error) {
	if strings.TrimSpace(e.Identifier) == "" {
		return nil, nil
	}
	entity := map[string]any{"type": "person", "identifiers": v2Identifiers(e.Identifier), "action": "event", "name": e.Name}
	if e.Data != nil {
		entity["attributes"] = e.Data
	}
	if e.ID != "" {
		entity["id"] = e.ID
	}
	if e.Timestamp > 0 {
		entity["timestamp"] = e.Timestamp
	}
	return part(entity)
}

func identifyPart(identifier string, attributes map[string]any) (*action.Part, error) {
	if attributes == nil {
		attributes = map[string]any{}
	}
	return part(map[string]any{"type": "person", "identifiers": v2Identifiers(identifier), "action": "identify", "attributes": attributes})
}

func deletePart(identifier string) (*action.Part, error) {
	return part(map[string]any{"type": "person", "identifiers": v2Identifiers(identifier), "action": "delete"})
}
