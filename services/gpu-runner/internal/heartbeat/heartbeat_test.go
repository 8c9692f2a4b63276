package heartbeat

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// sent is one message a recorder took.
type sent struct {
	subject string
	hb      bus.Heartbeat
}

// recorder is a Publisher that keeps what it is given; fail makes the
// next publish fail instead.
type recorder struct {
	mu   sync.Mutex
	got  []sent
	fail bool
}

func (r *recorder) Publish(subject string, data []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		r.fail = false
		return errors.New("connection closed")
	}
	var hb bus.Heartbeat
	if err := json.Unmarshal(data, &hb); err != nil {
		return err
	}
	r.got = append(r.got, sent{subject, hb})
	return nil
}

func (r *recorder) sent() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.got...)
}

func (r *recorder) failNext() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = true
}

// passInBubble lets d pass on a synctest bubble's clock, firing the
// tickers due meanwhile, and returns once every goroutine of the bubble is
// blocked again.
func passInBubble(d time.Duration) {
	<-time.After(d)
	synctest.Wait()
}

// snapshot is a runner's announcement with busy slots as they change.
func snapshot(busy *int) func() bus.Heartbeat {
	return func() bus.Heartbeat {
		return bus.Heartbeat{Runner: "runner-7", Host: "gpu-host", PID: 4242, Boot: "b1", Models: []string{"demo"},
			Slots: 2, Busy: *busy, Device: "cpu"}
	}
}

// A heartbeat goes out at Start, then once every interval, each a fresh
// snapshot stamped by the clock, on the runner's own subject; after Stop
// none goes out, and the loop has ended (the bubble fails a test whose
// goroutines outlive it).
func TestBeatsAtStartThenEveryIntervalUntilStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 5 * time.Second
		var out recorder
		busy := 0
		clock := time.Date(2031, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
		h := New(Params{NC: &out, Interval: interval, Snapshot: snapshot(&busy), Logger: zaptest.NewLogger(t),
			Clock: func() time.Time { return clock }})
		require.NoError(t, h.Start(t.Context()))
		require.Len(t, out.sent(), 1, "a heartbeat at once")
		first := out.sent()[0]
		require.Equal(t, bus.HeartbeatSubject("runner-7"), first.subject)
		want := snapshot(&busy)()
		want.At = clock.UTC()
		require.Equal(t, want, first.hb, "the snapshot, stamped in UTC by the clock")

		busy, clock = 2, clock.Add(interval)
		passInBubble(interval - time.Millisecond)
		require.Len(t, out.sent(), 1, "none before the interval ends")
		passInBubble(time.Millisecond)
		require.Len(t, out.sent(), 2, "one when it ends")
		second := out.sent()[1].hb
		require.Equal(t, 2, second.Busy, "a fresh snapshot each time")
		require.Equal(t, clock.UTC(), second.At)

		passInBubble(3 * interval)
		require.Len(t, out.sent(), 5, "one per interval")

		h.Stop(t.Context())
		passInBubble(10 * interval)
		require.Len(t, out.sent(), 5, "none after Stop")
		h.Stop(t.Context()) // a second Stop does nothing
	})
}

// A heartbeat that cannot be sent (NATS down) is dropped, and the next
// one goes out on time: a runner never stops announcing itself.
func TestAFailedBeatDoesNotStopTheNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = time.Second
		var out recorder
		busy := 0
		out.failNext()
		h := New(Params{NC: &out, Interval: interval, Snapshot: snapshot(&busy), Logger: zaptest.NewLogger(t)})
		require.NoError(t, h.Start(t.Context()))
		defer h.Stop(t.Context())
		require.Empty(t, out.sent(), "the first beat failed")
		passInBubble(interval)
		require.Len(t, out.sent(), 1, "the next went out on time")
		require.Equal(t, time.Now().UTC(), out.sent()[0].hb.At, "stamped by time.Now without a clock")
	})
}

// Over a real NATS server, with the runner's own credentials: the
// supervisor's subscription to every runner's heartbeat hears the runner
// at once, with what it announced.
func TestTheSupervisorHearsTheRunner(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	runnerConn, _ := n.ConnectAs(t, natsauth.Runner)
	supervisorConn, _ := n.ConnectAs(t, natsauth.Supervisor)
	heard := make(chan *nats.Msg, 16)
	sub, err := supervisorConn.ChanSubscribe(bus.SubjectHeartbeatsAll, heard)
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(t, supervisorConn.Flush())

	busy := 1
	before := time.Now().UTC()
	h := New(Params{NC: runnerConn, Interval: time.Hour, Snapshot: func() bus.Heartbeat {
		hb := snapshot(&busy)()
		hb.Runner = natsauth.DefaultName(natsauth.Runner) // the identity the runner's credentials allow
		return hb
	}, Logger: zaptest.NewLogger(t)})
	require.NoError(t, h.Start(t.Context()))
	defer h.Stop(t.Context())
	select {
	case msg := <-heard:
		require.Equal(t, bus.HeartbeatSubject(natsauth.DefaultName(natsauth.Runner)), msg.Subject)
		var hb bus.Heartbeat
		require.NoError(t, json.Unmarshal(msg.Data, &hb))
		require.Equal(t, 1, hb.Busy)
		require.Equal(t, []string{"demo"}, hb.Models)
		require.False(t, hb.At.Before(before), "stamped when sent: %s, started %s", hb.At, before)
	case <-time.After(10 * time.Second):
		t.Fatal("no heartbeat reached the supervisor within 10 s")
	}
}
