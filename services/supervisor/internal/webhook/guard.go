package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrRefused: a call the allow list or the address check refused; it is
// never retried.
var ErrRefused = errors.New("refused")

// exactKey marks a call's context when the allow list names its host
// exactly (see job.CallbackMatch): only then may it reach an internal
// address.
type exactKey struct{}

func withExact(ctx context.Context, exact bool) context.Context {
	return context.WithValue(ctx, exactKey{}, exact)
}

// NewClient is the HTTP client of webhook calls. It checks the address it
// actually connects to, after name resolution, so neither a public name
// resolving to an internal address nor one re-resolved between a check
// and the call (DNS rebinding) reaches the supervisor's own network,
// unless the operator named that host exactly. It uses no proxy from the
// environment and follows no redirect: either would take the call past
// the allow list.
func NewClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, ControlContext: checkAddress}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
	}
	return &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// checkAddress runs before each connection, with the address resolved.
func checkAddress(ctx context.Context, _, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: address %q", ErrRefused, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: address %q", ErrRefused, address)
	}
	if exact, _ := ctx.Value(exactKey{}).(bool); Internal(ip) && !exact {
		return fmt.Errorf("%w: %s is an internal address, and the allow list does not name the host exactly", ErrRefused, ip)
	}
	return nil
}

// internalPrefixes are ranges beyond the standard library's predicates:
// "this network", shared address space (carrier-grade NAT), IETF protocol
// assignments, benchmarking and the reserved block.
var internalPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// nat64 embeds an IPv4 address in IPv6 (RFC 6052); the embedded one is
// judged.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Internal reports whether ip is one a webhook must not reach unless its
// host is named exactly: loopback, private, link-local (cloud metadata
// lives at 169.254.169.254), unspecified, multicast and reserved
// addresses, also when written as IPv4-mapped or NAT64 IPv6.
func Internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid() {
		return true
	}
	for _, p := range internalPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
