package bus

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestTermReasonRoundTrip(t *testing.T) {
	for _, id := range []string{"01JABCDEFGHJKMNPQRSTVWXYZ0", "Rabc"} {
		reason := TermReason(id, "permanent failure: model refused: too big")
		if got := JobIDFromTermReason(reason); got != id {
			t.Fatalf("JobIDFromTermReason(%q) = %q, want %q", reason, got, id)
		}
	}
	for _, bad := range []string{"", "job ", "job :x", "nojob x: y", "job a b: c", "job abc"} {
		if got := JobIDFromTermReason(bad); got != "" {
			t.Fatalf("JobIDFromTermReason(%q) = %q, want empty", bad, got)
		}
	}
}

func TestNakWithDelayPayload(t *testing.T) {
	p := string(NakWithDelay(1500 * time.Millisecond))
	arg, ok := strings.CutPrefix(p, AckNak+" ")
	if !ok {
		t.Fatalf("payload %q does not start with %s", p, AckNak)
	}
	var v struct {
		Delay time.Duration `json:"delay"`
	}
	if err := json.Unmarshal([]byte(arg), &v); err != nil || v.Delay != 1500*time.Millisecond {
		t.Fatalf("delay of %q = %v (%v)", p, v.Delay, err)
	}
	if string(TermWithReason("r")) != "+TERM r" {
		t.Fatalf("TermWithReason = %q", TermWithReason("r"))
	}
}
