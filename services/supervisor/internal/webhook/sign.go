package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of every webhook call.
const (
	// HeaderSignature is "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>" keyed by CYBERIMAGE_WEBHOOK_SECRET>": the time is
	// signed too, so a receiver can refuse an old call replayed.
	HeaderSignature = "Cyberimage-Signature"
	// HeaderJobID names the job.
	HeaderJobID = "Cyberimage-Job-Id"
	// HeaderDelivery is the same on every attempt of one delivery, and on
	// a repeat by another supervisor after a leader change: receivers
	// dedupe on it.
	HeaderDelivery = "Cyberimage-Delivery"
)

// Sign is the signature header's value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// ErrBadSignature: a signature header that does not match its body, or is
// older than the tolerance.
var ErrBadSignature = errors.New("bad webhook signature")

// Verify checks a signature header against body as a receiver would: the
// HMAC matches (compared in constant time) and its time is within
// tolerance of now. It is the reference for docs/operations.md.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no time", ErrBadSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return fmt.Errorf("%w: the HMAC does not match", ErrBadSignature)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed %s from now", ErrBadSignature, age.Round(time.Second))
	}
	return nil
}
