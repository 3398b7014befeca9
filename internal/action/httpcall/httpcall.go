// Package httpcall is the http destination kind and its http.call action:
// any request to any HTTP API, under a destination's base URL when the
// step names one.
package httpcall

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	neturl "net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchyardhq/switchyard/internal/action"
	"github.com/switchyardhq/switchyard/internal/httpclient"
)

// Family is the http destination kind and http.call.
var Family = action.Family{
	Destination: &action.DestinationKind{
		Kind:        "http",
		Description: "Any HTTP API; its url is the base that steps' paths go under.",
		Settings: []action.Setting{
			{Name: "url", Description: "The base URL: a step's url is a path (and query) under it. Required with allow_private_network."},
		},
		Check: func(d *action.Destination) map[string]string {
			p := map[string]string{}
			switch u := d.Get("url"); {
			case u != "":
				if msg := action.CheckURL(u); msg != "" {
					p["url"] = msg
				}
			case d.AllowPrivateNetwork:
				p["url"] = "is required with allow_private_network: the steps' paths go under it, so the destination opens that host only"
			}
			return p
		},
		Batching: batching,
	},
	Actions: []*action.Spec{call},
}

// batching joins the calls of one method, URL and headers into one
// request whose body is the JSON array of their bodies.
var batching = &action.Batching{Join: func(_ *action.Destination, _ string, parts []action.Part, key string) (httpclient.Request, error) {
	req := parts[0].Value.(httpclient.Request)
	req.Header = req.Header.Clone()
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Content-Type", "application/json")
	req.Body = action.JSONArray(parts)
	return req, nil
}}

// group is what calls must share to go in one batch: the method, the
// URL and the headers other than the idempotency key.
func group(req httpclient.Request) string {
	var b strings.Builder
	b.WriteString(req.Method + " " + req.URL)
	for _, k := range slices.Sorted(maps.Keys(req.Header)) {
		if k != "Idempotency-Key" {
			fmt.Fprintf(&b, "\n%s: %q", k, req.Header[k])
		}
	}
	return b.String()
}

var call = &action.Spec{
	Kind: "http.call",
	Description: "Sends any request, with Idempotency-Key set to the step's key. With a destination, url is a path (and " +
		"query) under the destination's url; without one, a full http(s) URL. With the destination's batch, calls of one " +
		"method, URL and headers go as one request whose body is the JSON array of their bodies. " +
		`Output: {"status", "body"} (the body as JSON, or text).`,
	Inputs: []action.Input{
		{Name: "url", Type: action.String, Required: true, Description: "The URL, or a path under the destination's url."},
		{Name: "method", Type: action.String, Description: "The method; default POST."},
		{Name: "headers", Type: action.Object, Description: "Headers to set."},
		{Name: "body", Type: action.Any, Description: "A string is sent as it is; anything else as JSON."},
		{Name: "expected_statuses", Type: action.List, Description: "The statuses that succeed; default any 2xx."},
	},
	Build: build,
}

func build(d *action.Destination, in map[string]any, key string, _ time.Time) (action.Call, error) {
	url := action.Text(in["url"])
	if base := d.Get("url"); base != "" {
		var err error
		if url, err = underBase(base, url); err != nil {
			return action.Call{}, err
		}
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return action.Call{}, fmt.Errorf("url: %q is not an http(s) URL", url)
	}
	method := strings.ToUpper(action.Text(in["method"]))
	if method == "" {
		method = http.MethodPost
	}
	h := http.Header{"Idempotency-Key": {key}}
	if hs, ok := in["headers"].(map[string]any); ok {
		for k, v := range hs {
			h.Set(k, action.Text(v))
		}
	}
	var body []byte
	switch b := in["body"].(type) {
	case nil:
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			return action.Call{}, fmt.Errorf("body: %w", err)
		}
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
	}
	expected, err := statuses(in["expected_statuses"])
	if err != nil {
		return action.Call{}, err
	}
	req := httpclient.Request{Method: method, URL: url, Header: h, Body: body}
	item, err := json.Marshal(in["body"]) // a batch carries every body as JSON, a string as a JSON string
	if err != nil {
		return action.Call{}, fmt.Errorf("body: %w", err)
	}
	return action.Call{Request: req, Part: &action.Part{Group: group(req), Data: item, Value: req},
		Output: func(status int, respBody []byte) (any, error) {
			if expected != nil && !slices.Contains(expected, status) {
				return nil, fmt.Errorf("status %d is not one of the expected %v", status, expected)
			}
			var v any
			if json.Unmarshal(respBody, &v) != nil {
				v = string(respBody)
			}
			return map[string]any{"status": status, "body": v}, nil
		}}, nil
}

// underBase resolves a step's url (a path and query) under its
// destination's base URL. It refuses anything that leaves the base: an
// absolute URL, a scheme-relative //host, or ".." out of the base path. A
// destination is what an operator opened (allow_private_network is set
// per destination), so a workflow must not use it to reach another host.
func underBase(base, ref string) (string, error) {
	b, err := neturl.Parse(base)
	if err != nil {
		return "", fmt.Errorf("the destination's url does not parse: %w", err)
	}
	r, err := neturl.Parse(ref)
	if err != nil || r.Scheme != "" || r.Host != "" || r.User != nil || strings.HasPrefix(ref, "//") {
		return "", fmt.Errorf("url: %q must be a path (and query) under the destination's base URL %s, not another URL", ref, b.Redacted())
	}
	prefix := strings.TrimSuffix(b.Path, "/")
	joined := prefix + "/" + strings.TrimPrefix(r.Path, "/")
	if clean := path.Clean(joined); clean != prefix && !strings.HasPrefix(clean, prefix+"/") {
		return "", fmt.Errorf("url: %q leaves the destination's base path %q", ref, b.Path)
	}
	out := *b
	out.Path, out.RawPath, out.RawQuery, out.Fragment = joined, "", r.RawQuery, ""
	if b.RawQuery != "" && r.RawQuery != "" {
		out.RawQuery = b.RawQuery + "&" + r.RawQuery
	} else if r.RawQuery == "" {
		out.RawQuery = b.RawQuery
	}
	return out.String(), nil
}

func statuses(v any) ([]int, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("expected_statuses: must be a list of status codes")
	}
	var out []int
	for _, s := range list {
		n, err := strconv.Atoi(action.Text(s))
		if err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("expected_statuses: %v is not a status code", s)
		}
		out = append(out, n)
	}
	return out, nil
}
