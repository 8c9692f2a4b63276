package follow

import (
	"bytes"
	"testing"
)

// The checkpoints are read back from the supervisor's state bucket, which
// others may write to: both codecs are fuzzed.

// FuzzBinary: no value makes decoding panic; what it takes is exactly
// what Encode writes for the revision read.
func FuzzBinary(f *testing.F) {
	for _, v := range [][]byte{Binary.Encode(0), Binary.Encode(42), Binary.Encode(^uint64(0)), nil, []byte("42"), make([]byte, 9)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		rev, err := Binary.Decode(value)
		if err != nil {
			if len(value) == 8 {
				t.Fatalf("8 bytes refused: %v", err)
			}
			return
		}
		if !bytes.Equal(Binary.Encode(rev), value) {
			t.Fatalf("%x read as revision %d, written as %x", value, rev, Binary.Encode(rev))
		}
	})
}

// FuzzDecimal: no value makes decoding panic; what it takes reads back
// as the same revision once written again.
func FuzzDecimal(f *testing.F) {
	for _, v := range []string{"0", "42", "18446744073709551615", "", "-1", "18446744073709551616", "4x"} {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		rev, err := Decimal.Decode(value)
		if err != nil {
			return
		}
		again, err := Decimal.Decode(Decimal.Encode(rev))
		if err != nil || again != rev {
			t.Fatalf("%q read as revision %d, written and read again as %d (%v)", value, rev, again, err)
		}
	})
}
