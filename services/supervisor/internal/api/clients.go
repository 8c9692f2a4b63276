package api

import (
	"net"
	"net/http"
	"net/netip"
)

// peer is the address of the connection a request came on. Headers such
// as X-Forwarded-For are not read: any client can write them. Behind a
// reverse proxy every request is the proxy's.
func peer(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// fromLoopback tells whether a request came from this host.
func fromLoopback(r *http.Request) bool {
	a, ok := peer(r)
	return ok && a.IsLoopback()
}

// clientOf names the client a request's streams are counted against: its
// IPv4 address, or its IPv6 /64, since one IPv6 host commonly holds a
// whole /64 and could otherwise open streams from each of its addresses.
func clientOf(r *http.Request) string {
	a, ok := peer(r)
	switch {
	case !ok:
		return r.RemoteAddr
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// loopbackListener tells whether a listener takes connections from this
// host only.
func loopbackListener(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
