package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// clusterPorts picks k distinct free ports for a cluster's nodes. FreePort
// will not do: it asks the kernel for an ephemeral port and lets it go, so
// two calls can return the same port (a node then failed to start with
// "Error listening on router port: bind: address already in use" because
// its route port was its own client port), and a port left free while its
// node is killed can be taken by any outgoing connection. These come from
// below the kernel's ephemeral range, which no connection is given, each
// held until all are picked.
func clusterPorts(t testing.TB, k int) []int {
	t.Helper()
	lo, hi := 10000, ephemeralStart()
	var ports []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < k; tries++ {
		if tries > 1000 {
			t.Fatalf("no %d free ports in %d-%d", k, lo, hi)
		}
		port := lo + rand.IntN(hi-lo)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		held = append(held, l)
		ports = append(ports, port)
	}
	return ports
}

// ephemeralStart is the first port of the kernel's ephemeral range (Linux
// defaults to 32768 when it cannot be read).
func ephemeralStart() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if fields := strings.Fields(string(data)); len(fields) == 2 {
			if n, err := strconv.Atoi(fields[0]); err == nil && n > 11000 {
				return n
			}
		}
	}
	return 32768
}
