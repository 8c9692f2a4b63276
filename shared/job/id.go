package job

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// crockford is the ULID alphabet: sortable, no ambiguous letters.
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// NewID returns a time-ordered job id: 48 bits of milliseconds since the
// epoch then 80 bits derived from origin. Ingest passes the request's stream
// time and stream sequence, so a redelivered request gets the same id and
// cannot become a second job.
func NewID(at time.Time, origin string) string {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(at.UnixMilli())<<16)
	sum := sha256.Sum256([]byte(origin))
	copy(raw[6:], sum[:10])
	return crockford.EncodeToString(raw[:])[:26]
}

// IDForRequestID returns the job id for a client idempotency key: a pure
// function of the key, so the same request_id always names the same job.
// The "R" prefix keeps these ids apart from time-ordered ones.
func IDForRequestID(requestID string) string {
	sum := sha256.Sum256([]byte("request_id:" + requestID))
	return "R" + crockford.EncodeToString(sum[:])[:25]
}

// SeedFromID derives a non-negative seed from a job id, used when a request
// names none. The seed is recorded, so the job can be reproduced.
func SeedFromID(id string) int64 {
	sum := sha256.Sum256([]byte("seed:" + strings.ToUpper(id)))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
}
