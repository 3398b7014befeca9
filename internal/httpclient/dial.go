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
// not allow the private network (SSRF protection, reference/webhooks.md
// §13.6): a workflow author must not be able to reach the host's own
// services or its cloud's metadata endpoint through an action.
var ErrPrivateAddress = errors.New("the destination resolves to a private or loopback address; set allow_private_network to reach it")

// carrierNAT is 100.64.0.0/10, shared address space not covered by
// netip.Addr.IsPrivate.
var carrierNAT = netip.MustParsePrefix("100.64.0.0/10")

// internal reports whether ip is not a public unicast address.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() || carrierNAT.Contains(ip)
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
