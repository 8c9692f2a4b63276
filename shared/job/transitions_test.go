package job

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// sample is a record in status s that satisfies every guard of every
// transition but the status one: it names a delivery, which the fenced
// transitions are given, and has a deadline that passed before it started.
func sample(s Status) Record {
	return Record{JobID: "J", Status: s, Spec: Spec{Model: "demo", RequestID: "req-1", Deadline: testNow.Add(-time.Second)}, Runner: "r1", Attempts: 1,
		Delivery: &Delivery{StreamSeq: 7, Delivered: 1, Runner: "r1"}, CreatedAt: testNow.Add(-time.Minute)}
}

// invoke runs each named transition of the table on a record.
var invoke = map[string]func(r *Record) error{
	"Claim": func(r *Record) error { return Claim(r, Delivery{StreamSeq: 7, Delivered: 2, Runner: "r2"}, testNow) },
	"Complete": func(r *Record) error {
		return Complete(r, &Delivery{StreamSeq: 7, Delivered: 1, Runner: "r1"}, []string{"images/J/0.png"}, Stages{}, testNow)
	},
	"Fail": func(r *Record) error {
		return Fail(r, &Delivery{StreamSeq: 7, Delivered: 1, Runner: "r1"}, CodeGenerationFailed, "boom", Stages{}, testNow)
	},
	"Cancel":  func(r *Record) error { return Cancel(r, "cancelled by an operator", testNow) },
	"Expire":  func(r *Record) error { return Expire(r, testNow) },
	"Requeue": Requeue,
	"TakeAway": func(r *Record) error {
		return TakeAway(r, &Delivery{StreamSeq: 7, Delivered: 1, Runner: "r1"}, testNow, "stalled: over max_stalled_time")
	},
	"RequeueLost": func(r *Record) error { return RequeueLost(r, testNow, "work message no longer in the queue") },
	"GiveUp":      func(r *Record) error { return GiveUp(r, 3, testNow) },
	"Readmit": func(r *Record) error {
		return Readmit(r, NewQueued(r.JobID, Spec{Model: "demo", Prompt: "p"}, testNow, ""))
	},
	"RejectAgain": func(r *Record) error {
		return RejectAgain(r, NewRejected(r.JobID, "req-1", Failure{Code: CodeWidthOutOfRange, Message: "too wide"}, testNow))
	},
}

// TestEveryMoveOfTheTable runs every named transition from every status:
// from each status its row allows it must reach the row's status, and from
// every other it must refuse with the row's error and leave the record as
// it was. The cases come from the table, so they cannot drift from it.
func TestEveryMoveOfTheTable(t *testing.T) {
	if len(invoke) != len(Moves()) {
		t.Fatalf("%d transitions invoked here, %d in the table", len(invoke), len(Moves()))
	}
	for _, m := range Moves() {
		run, ok := invoke[m.Name]
		if !ok {
			t.Fatalf("transition %s of the table is not invoked here", m.Name)
		}
		for _, from := range Statuses() {
			r := sample(from)
			before := sample(from)
			err := run(&r)
			if m.leaves(from) {
				if err != nil || r.Status != m.To {
					t.Errorf("%s from %s: %v, status %s; want %s", m.Name, from, err, r.Status, m.To)
				}
				continue
			}
			if !errors.Is(err, m.Refused) {
				t.Errorf("%s from %s: %v; want refused with %q", m.Name, from, err, m.Refused)
			}
			if !reflect.DeepEqual(r, before) {
				t.Errorf("%s from %s refused but changed the record: %+v", m.Name, from, r)
			}
		}
	}
}

// TestAllowedIsWhatTheTransitionsDo checks the jobstore's rule against
// what the transitions really do, from every status to every status.
func TestAllowedIsWhatTheTransitionsDo(t *testing.T) {
	reached := map[[2]Status]bool{}
	for _, run := range invoke {
		for _, from := range Statuses() {
			r := sample(from)
			if run(&r) == nil {
				reached[[2]Status{from, r.Status}] = true
			}
		}
	}
	for _, from := range Statuses() {
		for _, to := range Statuses() {
			if got, want := Allowed(from, to), reached[[2]Status{from, to}]; got != want {
				t.Errorf("Allowed(%s, %s) = %v; the transitions say %v", from, to, got, want)
			}
		}
	}
	// What makes "exactly once" checkable, whatever the table becomes.
	for _, to := range Statuses() {
		if Allowed(StatusCompleted, to) || Allowed(StatusCancelled, to) {
			t.Errorf("a completed or cancelled job may become %s", to)
		}
		if to != StatusQueued && Allowed(StatusFailed, to) {
			t.Errorf("a failed job may become %s", to)
		}
	}
}

func TestTakeAwayThenGiveUp(t *testing.T) {
	d := &Delivery{StreamSeq: 7, Delivered: 3, Runner: "r1"}
	r := Record{Status: StatusProcessing, Runner: "r1", Attempts: 3, Delivery: d}
	if err := TakeAway(&r, &Delivery{StreamSeq: 7, Delivered: 2, Runner: "r1"}, testNow, "stalled"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("an earlier delivery was taken away: %v", err)
	}
	if err := TakeAway(&r, d, testNow, "stalled: over max_stalled_time"); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusQueued || r.Runner != "" || len(r.Recoveries) != 1 {
		t.Fatalf("after TakeAway: %+v", r)
	}
	if got := r.Recoveries[0]; got.Delivery != "7.3" || got.Runner != "r1" || got.Attempt != 3 {
		t.Fatalf("recovery %+v", got)
	}
	if err := GiveUp(&r, 3, testNow); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusFailed || r.Error.Code != CodeRetriesExhausted || r.CompletedAt == nil {
		t.Fatalf("after GiveUp: %+v", r)
	}
	if !strings.Contains(r.Error.Message, "3 deliveries") || !strings.Contains(r.Error.Message, "max_stalled_time") {
		t.Fatalf("reason %q", r.Error.Message)
	}
}

func TestRequeueLost(t *testing.T) {
	r := sample(StatusProcessing)
	if err := RequeueLost(&r, testNow, "work message no longer in the queue"); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusQueued || r.Runner != "" || len(r.Recoveries) != 1 ||
		r.Recoveries[0].Reason != "lost: work message no longer in the queue" || r.Recoveries[0].Delivery != "7.1" {
		t.Fatalf("processing job after RequeueLost: %+v", r)
	}
	q := sample(StatusQueued)
	if err := RequeueLost(&q, testNow, "gone"); err != nil || q.Status != StatusQueued || q.Runner != "" || q.Recoveries != nil {
		t.Fatalf("queued job after RequeueLost: %v %+v", err, q)
	}
}

func TestClaimCompleteAndTheFence(t *testing.T) {
	created := testNow
	r := Record{Status: StatusQueued, CreatedAt: created}
	d1 := Delivery{StreamSeq: 3, Delivered: 1, Runner: "r1"}
	if err := Claim(&r, d1, created.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusProcessing || r.Attempts != 1 || r.Runner != "r1" || r.Stages.QueueWaitMS != 2000 {
		t.Fatalf("after Claim: %+v", r)
	}
	// A runner whose clock is behind ingest's: the wait is never negative.
	r2 := Record{Status: StatusQueued, CreatedAt: created}
	_ = Claim(&r2, d1, created.Add(-time.Minute))
	if r2.Stages.QueueWaitMS != 0 {
		t.Fatalf("negative queue wait %v", r2.Stages.QueueWaitMS)
	}

	d2 := Delivery{StreamSeq: 3, Delivered: 2, Runner: "r2"}
	if err := Claim(&r, d2, created.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := Complete(&r, &d1, []string{"x"}, Stages{}, created); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("a stale delivery completed the job: %v", err)
	}
	if err := Fail(&r, &d1, CodeGenerationFailed, "x", Stages{}, created); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("a stale delivery failed the job: %v", err)
	}
	if err := Complete(&r, &d2, []string{"images/a/0.png"}, Stages{InferenceMS: 5}, created.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusCompleted || len(r.Images) != 1 || r.CompletedAt == nil {
		t.Fatalf("after Complete: %+v", r)
	}
}

func TestCancelAndRequeue(t *testing.T) {
	r := Record{Status: StatusQueued}
	if err := Cancel(&r, "cancelled by an operator", testNow); err != nil || r.Status != StatusCancelled || r.Error.Code != CodeCancelled {
		t.Fatalf("Cancel: %v %+v", err, r)
	}
	f := Record{Status: StatusFailed, Attempts: 4, Runner: "r", Images: []string{"a"}, Error: &Failure{Code: CodeRetriesExhausted},
		Delivery: &Delivery{StreamSeq: 1}, CompletedAt: UTC(testNow)}
	if err := Requeue(&f); err != nil {
		t.Fatal(err)
	}
	if f.Status != StatusQueued || f.Attempts != 0 || f.Requeues != 1 || f.Error != nil || f.Delivery != nil || f.Images != nil || f.CompletedAt != nil || f.Runner != "" {
		t.Fatalf("after Requeue: %+v", f)
	}
}

// A rejected request's record is replaced whole, by the next rejection or
// by the job of a valid request under the same request_id.
func TestReadmitAndRejectAgain(t *testing.T) {
	r := NewRejected("J", "req-1", Failure{Code: CodeWidthOutOfRange, Message: "too wide"}, testNow)
	r.Client = "alice"
	want := NewRejected("J", "req-1", Failure{Code: CodePromptRequired, Message: "no prompt"}, testNow.Add(time.Second))
	want.Client = "bob" // the latest sender's
	if err := RejectAgain(&r, want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("after RejectAgain: %+v", r)
	}
	spec := Spec{Model: "demo", Prompt: "p", RequestID: "req-1"}
	queued := NewQueued("other-id", spec, testNow, "00-trace")
	queued.Client = "carol"
	if err := Readmit(&r, queued); err != nil {
		t.Fatal(err)
	}
	queued.JobID = "J" // the id is the record's, whatever next said
	if !reflect.DeepEqual(r, queued) {
		t.Fatalf("after Readmit: %+v", r)
	}
}

// Expire ends only a queued job whose deadline has passed and that never
// started; the deadline is about starting.
func TestExpire(t *testing.T) {
	deadline := testNow.Add(time.Minute)
	queued := Record{JobID: "J", Status: StatusQueued, Spec: Spec{Model: "demo", Deadline: deadline}}

	r := queued
	if err := Expire(&r, deadline.Add(-time.Nanosecond)); !errors.Is(err, ErrNotDue) || !reflect.DeepEqual(r, queued) {
		t.Fatalf("expired before its deadline: %v %+v", err, r)
	}
	if err := Expire(&r, deadline); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusCancelled || r.Error.Code != CodeDeadlineExceeded || !r.CompletedAt.Equal(deadline) ||
		!strings.Contains(r.Error.Message, deadline.Format(time.RFC3339)) {
		t.Fatalf("after Expire: %+v %+v", r, r.Error)
	}

	none := Record{Status: StatusQueued, Spec: Spec{Model: "demo"}}
	if err := Expire(&none, testNow); !errors.Is(err, ErrNotDue) {
		t.Fatalf("a job without deadline expired: %v", err)
	}
	// Taken back from a runner after its run began: it started in time.
	started := queued
	started.StartedAt = UTC(testNow)
	if err := Expire(&started, deadline.Add(time.Hour)); !errors.Is(err, ErrNotDue) {
		t.Fatalf("a job that started expired: %v", err)
	}
	// Running when its deadline passes: it goes on.
	running := queued
	if err := Claim(&running, Delivery{StreamSeq: 1, Delivered: 1, Runner: "r1"}, testNow); err != nil {
		t.Fatal(err)
	}
	if err := Expire(&running, deadline.Add(time.Hour)); !errors.Is(err, ErrNotQueued) || running.Status != StatusProcessing {
		t.Fatalf("a running job expired: %v %s", err, running.Status)
	}
}
