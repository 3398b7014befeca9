package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress refuses a connection to a loopback, private,
// link-local or otherwise internal address for a destination that does
// not allow the private network (SSRF protection): a workflow author must not be able to reach the host's own
// services or its cloud's metadata endpoint through an action.
var ErrPrivateAddress = errors.New("the destination resolves to a private or loopback address; set allow_private_network to reach it")

// special are the address blocks that are not globally reachable: every
// block of IANA's IPv4 and IPv6 special-purpose address registries that is
// not marked globally reachable, plus multicast, the 6to4, NAT64 and
// IPv4-compatible forms (which embed an IPv4 address that could be any of
// the above, 169.254.169.254 included) and the cloud metadata addresses
// outside them (Azure's 168.63.129.16).
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		// IPv4 (RFC 6890 and later additions)
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
		"168.63.129.16/32",
		// IPv6
		"::/128", "::1/128", "::/96", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
		"2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
		"fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// internal reports whether ip is not a public unicast address.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap() // ::ffff:a.b.c.d is a.b.c.d
	if !ip.IsValid() {
		return true
	}
	for _, p := range special {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// dialer returns a DialContext that checks the address actually dialled,
// after name resolution, so that a DNS name pointing at 127.0.0.1 is
// refused as surely as the literal.
func dialer(allowPrivate bool, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
			}
			if internal(ap.Addr()) {
				return fmt.Errorf("%w (%s)", ErrPrivateAddress, ap.Addr())
			}
			return nil
		}
	}
	return d.DialContext
}
