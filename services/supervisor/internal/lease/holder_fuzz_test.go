package lease

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestDecodeHolderTakesOnlyIDs(t *testing.T) {
	for value, want := range map[string]string{
		"supervisor-a-4242": "supervisor-a-4242", "": "", "host\n-1": "", "\xff": "", "a\x00": "",
		strings.Repeat("h", maxHolderBytes): strings.Repeat("h", maxHolderBytes), strings.Repeat("h", maxHolderBytes+1): "",
	} {
		if got := decodeHolder([]byte(value)); got != want {
			t.Errorf("decodeHolder(%.20q) = %.20q, want %.20q", value, got, want)
		}
	}
}

// FuzzDecodeHolder: no lease value makes decodeHolder panic; what it takes
// is a bounded, printable id, the very bytes a supervisor writing that id
// puts in the lease.
func FuzzDecodeHolder(f *testing.F) {
	for _, s := range []string{"supervisor-a-4242", "ip-10-0-0-1.ec2.internal-17", "", "\x00", "a\nb", "\xed\xa0\x80", "é"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		id := decodeHolder(value)
		if id == "" {
			return
		}
		if id != string(value) || len(id) > maxHolderBytes || !utf8.ValidString(id) ||
			strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			t.Fatalf("decodeHolder(%q) = %q", value, id)
		}
		if again := decodeHolder([]byte(id)); again != id {
			t.Fatalf("the id %q, written as a supervisor writes it, reads as %q", id, again)
		}
	})
}
