package httpx

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies whose X-Forwarded-For, -Host and -Proto
// headers are believed. Anyone can send those headers, so they count only
// when the connection comes from one of these addresses.
type Proxies []netip.Prefix

// ParseProxies reads trusted_proxies: IP addresses or CIDR prefixes.
func ParseProxies(list []string) (Proxies, error) {
	var out Proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range p {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Forwarded makes what a trusted proxy says about the client the request's
// own: RemoteAddr becomes the first address in X-Forwarded-For (read from
// the right) that is not a trusted proxy, Host becomes X-Forwarded-Host,
// and URL.Scheme is "https" when the client reached the proxy over TLS.
// Below it, IsHTTPS, the loopback check of the management API and the
// per-client limits all see the real client. Requests from anyone else
// keep their connection's address and Host, whatever headers they send.
func Forwarded(p Proxies, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			r.URL.Scheme = "https"
		}
		if len(p) == 0 {
			h.ServeHTTP(w, r)
			return
		}
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !p.trusted(peer.Addr()) {
			r.URL.Scheme = schemeOf(r)
			h.ServeHTTP(w, r)
			return
		}
		if client, ok := p.client(r.Header.Values("X-Forwarded-For")); ok {
			r.RemoteAddr = net.JoinHostPort(client.String(), "0")
		}
		if fh := lastValue(r.Header.Get("X-Forwarded-Host")); fh != "" {
			r.Host = fh
		}
		if strings.EqualFold(lastValue(r.Header.Get("X-Forwarded-Proto")), "https") {
			r.URL.Scheme = "https"
		}
		h.ServeHTTP(w, r)
	})
}

func schemeOf(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return ""
}

// client walks X-Forwarded-For from the right (the entries the trusted
// proxies appended) to the first address that is not a trusted proxy.
func (p Proxies) client(values []string) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return netip.Addr{}, false
		}
		if !p.trusted(a) || i == 0 {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// lastValue is the right-most entry of a comma-separated header: the one
// the nearest (trusted) proxy wrote.
func lastValue(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// IsHTTPS reports whether the client used TLS, to Switchyard or to a
// trusted proxy in front of it (see Forwarded).
func IsHTTPS(r *http.Request) bool { return r.TLS != nil || r.URL.Scheme == "https" }

// ClientIP is the request's client address (after Forwarded), or the zero
// Addr when RemoteAddr is not an IP address.
func ClientIP(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a.Unmap()
}
