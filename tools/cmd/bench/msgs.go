package main

import (
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// natsMsgs counts the messages the NATS servers received from clients and
// sent to them, JetStream's internal traffic included, in all and by
// client: what each service published (in) and was delivered (out).
type natsMsgs struct {
	clientMsgs
	ByClient map[string]clientMsgs `json:"by_client,omitempty"`
}

// clientMsgs is one kind of client's share, summed over its connections
// (or the server's totals).
type clientMsgs struct {
	In  int64 `json:"in"`
	Out int64 `json:"out"`
}

// perJob is the count per completed job, rounded for the report.
func (c clientMsgs) perJob(jobs int) perJobMsgs {
	return perJobMsgs{In: round3(float64(c.In) / float64(jobs)), Out: round3(float64(c.Out) / float64(jobs))}
}

func (s *stack) natsMsgs() natsMsgs {
	m := natsMsgs{ByClient: map[string]clientMsgs{}}
	for _, ns := range s.nats.Servers {
		v, err := ns.Varz(nil)
		if err != nil {
			return natsMsgs{}
		}
		// Route traffic between nodes counts too: it is what R3 adds.
		m.In += v.InMsgs
		m.Out += v.OutMsgs
		conns, err := ns.Connz(&server.ConnzOptions{Limit: 4096})
		if err != nil {
			continue
		}
		for _, c := range conns.Conns {
			k := clientKind(c.Name)
			// The server counts from its side: a client's publishes are
			// the server's messages in, its deliveries the server's out.
			cm := m.ByClient[k]
			cm.In += c.InMsgs
			cm.Out += c.OutMsgs
			m.ByClient[k] = cm
		}
	}
	return m
}

// clientKind groups connections by the first word of their name
// ("gpu-runner bench-runner-1" → "gpu-runner"): the services name theirs.
func clientKind(name string) string {
	if name == "" {
		return "unnamed"
	}
	kind, _, _ := strings.Cut(name, " ")
	return kind
}

func (m natsMsgs) since(earlier natsMsgs) natsMsgs {
	out := natsMsgs{clientMsgs: clientMsgs{In: m.In - earlier.In, Out: m.Out - earlier.Out}, ByClient: map[string]clientMsgs{}}
	for k, c := range m.ByClient {
		e := earlier.ByClient[k]
		// A connection made during the phase started from zero; one closed
		// during it is missing from the later count: clamp at zero.
		out.ByClient[k] = clientMsgs{In: max(c.In-e.In, 0), Out: max(c.Out-e.Out, 0)}
	}
	return out
}
