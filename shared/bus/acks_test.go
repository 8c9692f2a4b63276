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

func TestParseAckSubject(t *testing.T) {
	cases := map[string]AckTarget{
		"$JS.ACK.CYBERIMAGE_JOBS.gpu-runners-demo.2.17.40.1733000000000000000.0":               {"CYBERIMAGE_JOBS", "gpu-runners-demo", 2, 17},
		"$JS.ACK.hub.ACCHASH.CYBERIMAGE_JOBS.gpu-runners-demo.1.5.9.1733000000000000000.3.abc": {"CYBERIMAGE_JOBS", "gpu-runners-demo", 1, 5},
	}
	for subject, want := range cases {
		got, err := ParseAckSubject(subject)
		if err != nil || got != want {
			t.Fatalf("ParseAckSubject(%q) = %+v, %v; want %+v", subject, got, err, want)
		}
	}
	for _, bad := range []string{"", " ", "$JS.ACK", "$JS.ACK.a.b.x.1.1.1.1", "$JS.ACK.a.b.1.y.1.1.1", "$JS.ACK.a.b.1.2.3.4.5.6",
		"cyberimage.requests", "$JS.ACK..b.1.2.3.4.5", "$JS.ACK.a.b.-1.2.3.4.5"} {
		if _, err := ParseAckSubject(bad); err == nil {
			t.Fatalf("ParseAckSubject(%q) accepted", bad)
		}
	}
}

func TestAckKindOf(t *testing.T) {
	for payload, want := range map[string]string{
		"": AckDone, "+ACK": AckDone, "+WPI": AckInProgress, "-NAK": AckNak, `-NAK {"delay": 5}`: AckNak,
		"+TERM job x: y": AckTerm, "   ": "", "\t\n": "", "junk": "", "+NXT": "",
	} {
		if got := AckKindOf([]byte(payload)); got != want {
			t.Fatalf("AckKindOf(%q) = %q, want %q", payload, got, want)
		}
	}
}

// FuzzParseAckSubject: no subject makes the parser panic, and what it
// accepts round-trips through the subject's own fields.
func FuzzParseAckSubject(f *testing.F) {
	f.Add("$JS.ACK.CYBERIMAGE_JOBS.gpu-runners-demo.2.17.40.1733000000000000000.0")
	f.Add("$JS.ACK.hub.ACC.S.C.1.5.9.1.3.abc")
	f.Add("   ")
	f.Fuzz(func(t *testing.T, subject string) {
		got, err := ParseAckSubject(subject)
		if err != nil {
			return
		}
		if !strings.Contains(subject, "."+got.Stream+"."+got.Consumer+".") {
			t.Fatalf("%q parsed as %+v", subject, got)
		}
		_ = AckKindOf([]byte(subject))
	})
}
