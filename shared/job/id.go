package job

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// crockford is the ULID alphabet: sortable, no ambiguous letters.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns a ULID (https://github.com/ulid/spec): 48 bits of
// milliseconds since the epoch, then 80 bits derived from origin instead of
// random ones. Ingest passes the request's stream time and stream sequence,
// so a redelivered request gets the same id and cannot become a second job,
// and any ULID library reads the id's time back.
func NewID(at time.Time, origin string) string {
	var raw [16]byte
	ms := uint64(max(at.UnixMilli(), 0))
	for i := range 6 {
		raw[i] = byte(ms >> (40 - 8*i))
	}
	sum := sha256.Sum256([]byte(origin))
	copy(raw[6:], sum[:10])
	return encodeULID(raw)
}

// encodeULID writes 128 bits as 26 Crockford base32 characters, most
// significant first: the first character carries only the top 3 bits (the
// ULID layout), unlike base32.Encoding, which pads at the end.
func encodeULID(raw [16]byte) string {
	var out [26]byte
	for i := range out {
		v := 0
		for j := range 5 {
			v <<= 1
			if bit := 5*i - 2 + j; bit >= 0 {
				v |= int(raw[bit/8]>>(7-bit%8)) & 1
			}
		}
		out[i] = crockford[v]
	}
	return string(out[:])
}

// IDForRequestID returns the job id for a client idempotency key: a pure
// function of the key, so the same request_id always names the same job.
// The "R" prefix keeps these ids apart from time-ordered ones.
func IDForRequestID(requestID string) string {
	sum := sha256.Sum256([]byte("request_id:" + requestID))
	return "R" + requestIDEncoding.EncodeToString(sum[:])[:25]
}

// requestIDEncoding spells request_id ids in the same alphabet.
var requestIDEncoding = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// SeedFromID derives a non-negative seed from a job id, used when a request
// names none. The seed is recorded, so the job can be reproduced.
func SeedFromID(id string) int64 {
	sum := sha256.Sum256([]byte("seed:" + strings.ToUpper(id)))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
}
