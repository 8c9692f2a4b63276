package bus

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// SubmitRequest sends a request to ingest on behalf of someone else (the
// supervisor's HTTP submissions) and waits for its answer on a SubmitInbox
// under the connection's own inbox prefix: the one subject of a service
// that ingest may answer on.
func SubmitRequest(ctx context.Context, nc *nats.Conn, m *nats.Msg) (*nats.Msg, error) {
	inbox := nc.NewInbox()
	cut := strings.LastIndexByte(inbox, '.')
	inbox = SubmitInbox(inbox[:cut], inbox[cut+1:])
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", inbox, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	m.Reply = inbox
	if err := nc.PublishMsg(m); err != nil {
		return nil, err
	}
	reply, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		return nil, err
	}
	if reply.Header.Get("Status") == "503" && len(reply.Data) == 0 {
		return nil, nats.ErrNoResponders
	}
	return reply, nil
}
