package natscluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"cyberimage/shared/backoff"
	"cyberimage/shared/lifecycle"
)

// MonitorURL is the node's HTTP monitor (/healthz, /jsz).
func (n Node) MonitorURL() string { return "http://" + n.addr(n.MonitorPort) }

// pollInterval is how long WaitFormed waits before it asks each node
// again.
const pollInterval = 100 * time.Millisecond

// WaitFormed waits until the nodes form one JetStream cluster: every node
// names the same meta leader, and the leader counts every other node as a
// current peer. /healthz says less: a node is healthy once it knows a meta
// leader, even while a peer has not joined the meta group yet, and a
// replicated stream created then fails with "no suitable peers for
// placement". Pass the nodes that run; a node down is no peer to wait for.
//
// progress hears each new reason the cluster is not formed yet (nil:
// quiet); the error, when ctx ends first, carries the last one.
func WaitFormed(ctx context.Context, nodes []Node, progress func(string)) error {
	client := &http.Client{Timeout: 2 * time.Second}
	last := ""
	poll := lifecycle.Policy{Backoff: backoff.Fixed(pollInterval)}
	err := lifecycle.Retry(ctx, poll, func(ctx context.Context) error {
		views := map[string]*server.JSInfo{}
		for _, n := range nodes {
			if info, err := jsz(ctx, client, n); err == nil {
				views[n.Name] = info
			}
		}
		missing := judgeFormed(nodes, views)
		if missing == "" {
			return nil
		}
		if missing != last && progress != nil {
			progress(missing)
		}
		last = missing
		return errors.New(missing)
	})
	if err != nil {
		return fmt.Errorf("JetStream cluster not formed: %s: %w", last, err)
	}
	return nil
}

// jsz is one node's view of JetStream, as its monitor serves it.
func jsz(ctx context.Context, client *http.Client, n Node) (*server.JSInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.MonitorURL()+"/jsz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/jsz: %s", n.MonitorURL(), resp.Status)
	}
	var info server.JSInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("%s/jsz: %w", n.MonitorURL(), err)
	}
	return &info, nil
}

// judgeFormed says what keeps the nodes from being one cluster, given each
// node's /jsz (absent: it did not answer); "" when nothing does.
func judgeFormed(nodes []Node, views map[string]*server.JSInfo) string {
	leader := ""
	for _, n := range nodes {
		v := views[n.Name]
		switch {
		case v == nil:
			return n.Name + " does not answer /jsz"
		case v.Disabled || v.Meta == nil:
			return n.Name + " has no JetStream meta group yet"
		case v.Meta.Leader == "":
			return n.Name + " knows no meta leader"
		case leader == "":
			leader = v.Meta.Leader
		case v.Meta.Leader != leader:
			return fmt.Sprintf("%s names meta leader %s, another node %s", n.Name, v.Meta.Leader, leader)
		}
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	if !slices.Contains(names, leader) {
		return "meta leader " + leader + " is none of " + strings.Join(names, ", ")
	}
	var lagging []string
	for _, name := range names {
		if name == leader {
			continue
		}
		i := slices.IndexFunc(views[leader].Meta.Replicas, func(p *server.PeerInfo) bool { return p.Name == name })
		switch {
		case i < 0:
			lagging = append(lagging, name+" (not a peer yet)")
		case views[leader].Meta.Replicas[i].Offline:
			lagging = append(lagging, name+" (offline)")
		case !views[leader].Meta.Replicas[i].Current:
			lagging = append(lagging, name+" (catching up)")
		}
	}
	if len(lagging) > 0 {
		return "meta leader " + leader + " waits for " + strings.Join(lagging, ", ")
	}
	return ""
}
