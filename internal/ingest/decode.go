package ingest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// Decoded is what one ingest request asks to append, as its API read it:
// events appended as one batch, or a tracker's session-bound request.
// Refused are the parts of a batch refused while the rest is accepted
// (Track API v2's 207, Data Pipelines' dropped messages), each worded as
// the API words it.
type Decoded struct {
	Events  []*cdp.Event
	Track   *TrackRequest // Tracardi's /track and /collect; Source is set by the caller
	Refused []error
}

// A Decoder reads one request of an ingest API into what it appends, for
// src (already authenticated): the request's method, path values, query
// and headers, and its body as read. A request it refuses is a cdp.Error
// worded as its API words it. It reads nothing else and changes nothing,
// so the same decoder serves a live request and the replay of a captured
// one.
type Decoder func(r *http.Request, body []byte, src *cdp.Source) (Decoded, error)

// Routes are the decoders of the ingest routes, by route pattern
// ("POST /api/v1/customers/{identifier}/events"): replay finds a
// captured request's decoder and path values here.
type Routes struct {
	routes []route
}

type route struct {
	method   string
	segments []string // a "{name}" segment matches any one segment
	decode   Decoder
}

// Add registers the decoder of pattern: a method, a space, and a path
// whose segments are literal or a {name} wildcard.
func (rs *Routes) Add(pattern string, d Decoder) {
	method, path, _ := strings.Cut(pattern, " ")
	rs.routes = append(rs.routes, route{method: method, segments: strings.Split(strings.Trim(path, "/"), "/"), decode: d})
}

// Match returns the decoder of the route method and escapedPath take,
// with the path values its wildcards name (unescaped, as http.ServeMux
// gives them); a literal segment wins over a wildcard.
func (rs *Routes) Match(method, escapedPath string) (Decoder, map[string]string, bool) {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	for i, s := range segs {
		if u, err := url.PathUnescape(s); err == nil {
			segs[i] = u
		}
	}
	best, bestLiterals := -1, -1
	for i, rt := range rs.routes {
		if rt.method != method || len(rt.segments) != len(segs) {
			continue
		}
		literals, ok := 0, true
		for j, s := range rt.segments {
			if isWildcard(s) {
				ok = ok && segs[j] != ""
				continue
			}
			ok = ok && s == segs[j]
			literals++
		}
		if ok && literals > bestLiterals {
			best, bestLiterals = i, literals
		}
	}
	if best < 0 {
		return nil, nil, false
	}
	values := map[string]string{}
	for j, s := range rs.routes[best].segments {
		if isWildcard(s) {
			values[s[1:len(s)-1]] = segs[j]
		}
	}
	return rs.routes[best].decode, values, true
}

func isWildcard(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }
