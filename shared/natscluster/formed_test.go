package natscluster

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

func TestJudgeFormedWaitsForEveryPeerOfTheLeader(t *testing.T) {
	nodes := []Node{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}
	peer := func(name string, current, offline bool) *server.PeerInfo {
		return &server.PeerInfo{Name: name, Current: current, Offline: offline}
	}
	view := func(leader string, replicas ...*server.PeerInfo) *server.JSInfo {
		return &server.JSInfo{Meta: &server.MetaClusterInfo{Leader: leader, Replicas: replicas}}
	}
	formed := view("n1", peer("n2", true, false), peer("n3", true, false))
	follower := view("n1")
	for _, c := range []struct {
		name  string
		views map[string]*server.JSInfo
		want  string // in the reason; "" when formed
	}{
		{"formed", map[string]*server.JSInfo{"n1": formed, "n2": follower, "n3": follower}, ""},
		{"a node silent", map[string]*server.JSInfo{"n1": formed, "n2": follower}, "n3 does not answer"},
		{"JetStream off", map[string]*server.JSInfo{"n1": formed, "n2": follower, "n3": {Disabled: true}}, "n3 has no JetStream meta group"},
		{"no leader yet", map[string]*server.JSInfo{"n1": view(""), "n2": view(""), "n3": view("")}, "n1 knows no meta leader"},
		{"split views", map[string]*server.JSInfo{"n1": formed, "n2": follower, "n3": view("n3")}, "n3 names meta leader n3"},
		{"leader outside", map[string]*server.JSInfo{"n1": view("x"), "n2": view("x"), "n3": view("x")}, "none of n1, n2, n3"},
		// The CI failure: healthy everywhere, but n3 not yet in the meta group.
		{"peer not joined", map[string]*server.JSInfo{"n1": view("n1", peer("n2", true, false)), "n2": follower, "n3": follower}, "n3 (not a peer yet)"},
		{"peer offline", map[string]*server.JSInfo{"n1": view("n1", peer("n2", true, false), peer("n3", false, true)), "n2": follower, "n3": follower}, "n3 (offline)"},
		{"peer lagging", map[string]*server.JSInfo{"n1": view("n1", peer("n2", false, false), peer("n3", true, false)), "n2": follower, "n3": follower}, "n2 (catching up)"},
	} {
		got := judgeFormed(nodes, c.views)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// A node down is no peer to wait for.
	running := []Node{nodes[0], nodes[1]}
	if got := judgeFormed(running, map[string]*server.JSInfo{"n1": view("n1", peer("n2", true, false), peer("n3", false, true)), "n2": follower}); got != "" {
		t.Errorf("two of three running: %q", got)
	}
}
