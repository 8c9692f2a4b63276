package bus

import (
	"bytes"
	"strings"
	"testing"
)

// Ack payloads come from whoever may publish on the ack subjects, and term
// reasons from the advisories that repeat them: both cross a trust
// boundary before the supervisor reads them.

// FuzzAckKindOf: no payload makes AckKindOf panic; it names one of the
// known kinds or none, and a kind only when the payload starts with it (or
// is empty, which the server reads as an ack).
func FuzzAckKindOf(f *testing.F) {
	for _, p := range [][]byte{nil, []byte(AckInProgress), []byte(AckDone), NakWithDelay(1500), TermWithReason(TermReason("01J", "boom")),
		[]byte("+NXT"), []byte(" +ACK"), []byte("+AC"), []byte("\x00")} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		switch kind := AckKindOf(payload); kind {
		case "":
		case AckDone:
			if len(payload) != 0 && !bytes.HasPrefix(payload, []byte(AckDone)) {
				t.Fatalf("%q read as %s", payload, kind)
			}
		case AckInProgress, AckNak, AckTerm:
			if !bytes.HasPrefix(payload, []byte(kind)) {
				t.Fatalf("%q read as %s", payload, kind)
			}
		default:
			t.Fatalf("%q read as unknown kind %q", payload, kind)
		}
	})
}

// FuzzTermReason: what TermReason writes, JobIDFromTermReason reads back;
// from any other reason it takes nothing but a valid token that the
// reason names where TermReason puts it.
func FuzzTermReason(f *testing.F) {
	f.Add("01JABCDEFGHJKMNPQRSTVWXYZ0", "permanent failure: model refused: too big")
	f.Add("Rabc", "")
	f.Add("a b", "x")
	f.Add("a.b", "x")
	f.Add("", "job x: y")
	f.Fuzz(func(t *testing.T, id, why string) {
		reason := TermReason(id, why)
		got := JobIDFromTermReason(reason)
		if ValidToken(id) && !strings.Contains(id, ":") && got != id {
			t.Fatalf("JobIDFromTermReason(%q) = %q, want %q", reason, got, id)
		}
		// why on its own stands for any reason an advisory may carry.
		for _, r := range []string{reason, why} {
			got := JobIDFromTermReason(r)
			if got != "" && (!ValidToken(got) || !strings.HasPrefix(r, "job "+got+":")) {
				t.Fatalf("JobIDFromTermReason(%q) = %q", r, got)
			}
		}
	})
}
