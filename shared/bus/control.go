package bus

import "time"

// Control orders sent to a runner on ControlSubject(runner).
const (
	// ControlAbandon: stop working on a delivery (terminate its inference)
	// and never ack it; the supervisor has given the job to someone else.
	ControlAbandon = "abandon"
	// ControlCancel: the job was cancelled; stop working on it and never
	// ack it (the supervisor removed its message).
	ControlCancel = "cancel"
	// ControlReload: drop and reload every model session (the original
	// app's forced cleanup), after repeated stalls.
	ControlReload = "reload"
	// ControlDrain: take no new work, finish what is held and stay up, until
	// ControlUndrain (an operator's maintenance). The supervisor repeats
	// whichever of the two an operator chose until the runner's heartbeat
	// (Heartbeat.Draining) agrees, so a lost order or a restarted runner
	// ends up as the operator asked.
	ControlDrain = "drain"
	// ControlUndrain: take work again after a drain.
	ControlUndrain = "undrain"
)

// Control is an order to a runner.
type Control struct {
	// ID names a reload order, so a repeated order is carried out once.
	ID     string `json:"id,omitempty"`
	Action string `json:"action"`
	// Delivery is the delivery an abandon or cancel order concerns
	// ("<stream_seq>.<delivered>"); a runner ignores orders about
	// deliveries it does not hold.
	Delivery string `json:"delivery,omitempty"`
	// ExpiresAt bounds replays: a runner ignores an order past it (with
	// OrderClockTolerance for its clock).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	JobID     string    `json:"job_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

// OrderTTL is how long an order is valid after it is sent.
const OrderTTL = time.Minute

// OrderClockTolerance is how far a runner's clock may be ahead of the
// supervisor's before it wrongly takes a fresh order for an expired one:
// orders are refused only this long past their expiry. Orders about a job
// are also bound to one delivery, which is what really keeps a replayed
// order from touching anything else.
const OrderClockTolerance = 15 * time.Minute

// Expired reports whether an order is past its expiry by the runner's
// clock, allowing for OrderClockTolerance. Orders without an expiry (from
// an older supervisor) are taken.
func (c Control) Expired(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && now.After(c.ExpiresAt.Add(OrderClockTolerance))
}

// DeliveryOrder is an order about one delivery of a job (ControlAbandon,
// ControlCancel), valid for OrderTTL from now.
func DeliveryOrder(action, jobID, delivery, reason string, now time.Time) Control {
	now = now.UTC()
	return Control{Action: action, JobID: jobID, Delivery: delivery, Reason: reason, At: now, ExpiresAt: now.Add(OrderTTL)}
}

// ReloadOrder is an order to reload every model, named id so that it is
// carried out once however often it is repeated, valid for OrderTTL from
// now.
func ReloadOrder(id, reason string, now time.Time) Control {
	now = now.UTC()
	return Control{ID: id, Action: ControlReload, Reason: reason, At: now, ExpiresAt: now.Add(OrderTTL)}
}

// DrainOrder is an order to drain a runner (drain true) or to let it take
// work again, valid for OrderTTL from now. It needs no id: carrying it
// out twice changes nothing.
func DrainOrder(drain bool, reason string, now time.Time) Control {
	now = now.UTC()
	action := ControlUndrain
	if drain {
		action = ControlDrain
	}
	return Control{Action: action, Reason: reason, At: now, ExpiresAt: now.Add(OrderTTL)}
}

// EncodeControl is the JSON of an order.
func EncodeControl(c Control) []byte { return encode(c) }

// DecodeControl reads an order to a runner. Orders about a job must name
// the job and the delivery they concern.
func DecodeControl(data []byte) (Control, error) {
	return decode(data, MaxMessageBytes, func(c *Control) error {
		switch c.Action {
		case ControlAbandon, ControlCancel:
			if !ValidToken(c.JobID) || c.Delivery == "" {
				return malformed("%s order names no job and delivery", c.Action)
			}
		case ControlReload:
			if c.ID == "" {
				return malformed("reload order has no id")
			}
		case ControlDrain, ControlUndrain:
		default:
			return malformed("unknown order %q", c.Action)
		}
		return nil
	})
}
