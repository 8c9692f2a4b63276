package job

import "slices"

// Refusal is the error a named transition refuses with. Refusals are
// comparable values, so callers match them with errors.Is (or ==).
type Refusal string

func (r Refusal) Error() string { return string(r) }

// The refusals, each from the statuses its transition may not leave (see
// Moves).
const (
	// ErrEnded: the job is terminal; nothing may run or change it.
	ErrEnded Refusal = "job already ended"
	// ErrNotOwner: the record no longer names the delivery acting on it;
	// another attempt owns the job (the fence).
	ErrNotOwner Refusal = "delivery is no longer the current attempt"
	// ErrNotCancellable: only queued or processing jobs can be cancelled.
	ErrNotCancellable Refusal = "job is not queued or processing"
	// ErrNotFailed: only failed jobs can be re-queued.
	ErrNotFailed Refusal = "job is not failed"
	// ErrNotRejected: only a rejected request's record may be replaced by
	// the same request_id sent again; a real job under it stays untouched.
	ErrNotRejected Refusal = "job is not a rejected request"
	// ErrNotQueued: only a queued job can expire; one that runs or ended
	// is past its start.
	ErrNotQueued Refusal = "job is not queued"
	// ErrNotDue: the job has no deadline, its deadline is still ahead, or
	// it started before (Expire's own fence).
	ErrNotDue Refusal = "job has no deadline that passed before it started"
)

// Move is one named transition in the table of allowed status changes:
// the statuses it may leave, the one it reaches, and the error it refuses
// with from any other status.
type Move struct {
	Name    string
	From    []Status
	To      Status
	Refused Refusal
}

// The table: every status change a record may make is one of these, and
// each named transition checks its record against its own row before it
// touches anything. Statuses outside a row's From are refused, so a rule
// changes here and nowhere else.
var (
	claimMove       = Move{"Claim", []Status{StatusQueued, StatusProcessing}, StatusProcessing, ErrEnded}
	completeMove    = Move{"Complete", []Status{StatusProcessing}, StatusCompleted, ErrNotOwner}
	failMove        = Move{"Fail", []Status{StatusProcessing}, StatusFailed, ErrNotOwner}
	cancelMove      = Move{"Cancel", []Status{StatusQueued, StatusProcessing}, StatusCancelled, ErrNotCancellable}
	expireMove      = Move{"Expire", []Status{StatusQueued}, StatusCancelled, ErrNotQueued}
	requeueMove     = Move{"Requeue", []Status{StatusFailed}, StatusQueued, ErrNotFailed}
	takeAwayMove    = Move{"TakeAway", []Status{StatusProcessing}, StatusQueued, ErrNotOwner}
	requeueLostMove = Move{"RequeueLost", []Status{StatusQueued, StatusProcessing}, StatusQueued, ErrEnded}
	giveUpMove      = Move{"GiveUp", []Status{StatusQueued, StatusProcessing}, StatusFailed, ErrEnded}
	readmitMove     = Move{"Readmit", []Status{StatusRejected}, StatusQueued, ErrNotRejected}
	rejectAgainMove = Move{"RejectAgain", []Status{StatusRejected}, StatusRejected, ErrNotRejected}
)

// Moves lists the table, one row per named transition. Processing →
// processing is a new attempt (Claim); nothing leaves completed or
// cancelled, failed only through an operator's Requeue, and rejected only
// when the same request_id comes again: that is what makes "exactly once"
// checkable.
func Moves() []Move {
	return []Move{claimMove, completeMove, failMove, cancelMove, expireMove, requeueMove, takeAwayMove,
		requeueLostMove, giveUpMove, readmitMove, rejectAgainMove}
}

// Allowed reports whether some named transition moves a record from one
// status to another; the jobstore refuses any other change of status.
func Allowed(from, to Status) bool {
	for _, m := range Moves() {
		if m.To == to && m.leaves(from) {
			return true
		}
	}
	return false
}

func (m Move) leaves(s Status) bool { return slices.Contains(m.From, s) }

// check refuses a record whose status this transition may not leave.
func (m Move) check(r *Record) error {
	if !m.leaves(r.Status) {
		return m.Refused
	}
	return nil
}
