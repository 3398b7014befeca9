package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Data quality's cost (--quality none|plan|transform|both): the Data Pipelines
// track calls carry 20 properties, whatever the binary, and this build's
// server gets, through its management API, a tracking plan whose schema
// checks all 20 (every call passes it: what is measured is checking, not
// refusing) and/or a transform of five fields on the pipelines source
// (none: neither, the same calls). An older binary (--compare) is measured
// with the same calls and neither.
var qualityModes = []string{"none", "plan", "transform", "both"}

// qualityTransform renames the type, drops one property and derives
// three.
const qualityTransform = `{'type': event.type == 'Order Completed' ? 'order_completed' : event.type,
  'properties': event.properties.without(['email']).with({'revenue': event.properties.total,
    'currency_code': event.properties.currency, 'large': event.properties.total > 100.0, 'channel': 'web'})}`

// pipelinesTrack20 is a track call with 20 properties of every JSON type.
func pipelinesTrack20(i, users int) []byte {
	return fmt.Appendf(nil, `{"type":"track","messageId":"m-%d","userId":"u%d","event":"Order Completed",`+
		`"timestamp":"2026-11-23T10:00:00Z","properties":{"total":%d.99,"currency":"EUR","items":%d,"order_id":"o-%d",`+
		`"email":"u%d@example.com","coupon":null,"shipping":4.5,"tax":1.25,"discount":0,"gift":false,"category":"apparel",`+
		`"product":"socks","sku":"S-%d","quantity":2,"price":9.99,"brand":"acme","variant":"blue","position":3,`+
		`"affiliation":"shop","repeat":true},"context":{"library":{"name":"analytics-node","version":"2.1.0"}}}`,
		i, i%max(users, 1), i%500, i%7, i, i%max(users, 1), i)
}

// qualitySchema checks the 20 properties (the transformed call's too).
func qualitySchema() map[string]any {
	props := map[string]any{}
	for name, typ := range map[string]string{"total": "number", "currency": "string", "items": "integer", "order_id": "string",
		"shipping": "number", "tax": "number", "discount": "number", "gift": "boolean", "category": "string", "product": "string",
		"sku": "string", "quantity": "integer", "price": "number", "brand": "string", "variant": "string", "position": "integer",
		"affiliation": "string", "repeat": "boolean", "revenue": "number", "currency_code": "string"} {
		props[name] = map[string]any{"type": typ}
	}
	props["currency"] = map[string]any{"type": "string", "enum": []any{"EUR", "USD"}}
	props["order_id"] = map[string]any{"type": "string", "pattern": "^o-[0-9]+$"}
	props["coupon"] = map[string]any{"type": []any{"string", "null"}}
	return map[string]any{"type": "object", "required": []any{"total", "currency", "order_id", "items"}, "properties": props}
}

// setUpQuality configures a spawned server of this build for --quality.
func setUpQuality(ctx context.Context, t *target, mode string) error {
	if mode == "plan" || mode == "both" {
		schema := qualitySchema()
		plan := map[string]any{"id": "bench", "mode": "flag", "events": map[string]any{
			"Order Completed": map[string]any{"properties": schema}, "order_completed": map[string]any{"properties": schema}}}
		if err := adminCall(ctx, t, "POST", "/admin/v1/tracking-plans", plan, http.StatusCreated); err != nil {
			return fmt.Errorf("bench: the tracking plan: %w", err)
		}
	}
	if mode == "transform" || mode == "both" {
		var src map[string]any
		if err := adminGet(ctx, t, "/admin/v1/sources/pipelines", &src); err != nil {
			return fmt.Errorf("bench: the pipelines source: %w", err)
		}
		src["transform"] = qualityTransform
		for _, k := range []string{"origin", "created_at", "updated_at"} {
			delete(src, k)
		}
		if err := adminCall(ctx, t, "PUT", "/admin/v1/sources/pipelines", src, http.StatusOK); err != nil {
			return fmt.Errorf("bench: the transform: %w", err)
		}
	}
	return nil
}

func validQuality(mode, payload string) error {
	if mode == "" {
		return nil
	}
	if !slices.Contains(qualityModes, mode) {
		return fmt.Errorf("bench: --quality must be one of %s", strings.Join(qualityModes, ", "))
	}
	if payload != "pipelines-track" {
		return fmt.Errorf("bench: --quality measures Data Pipelines track calls: use --payload pipelines-track")
	}
	return nil
}

func adminCall(ctx context.Context, t *target, method, path string, body any, want int) error {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, method, t.url+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return nil
}

func adminGet(ctx context.Context, t *target, path string, out any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.url+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", path, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
