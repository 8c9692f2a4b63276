package bus

import (
	"strings"
	"testing"
)

func TestRedactedHidesCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                     "nats://127.0.0.1:4222",
		"nats://alice:s3cret@h:4222":                "nats://alice:REDACTED@h:4222",
		"nats://t0ken@h:4222,nats://bob:pw@h2:4222": "nats://REDACTED@h:4222,nats://bob:REDACTED@h2:4222",
		"tls://h:4222":                              "tls://h:4222",
	} {
		got := Conn{URL: in}.Redacted()
		if got != want {
			t.Fatalf("Redacted(%q) = %q, want %q", in, got, want)
		}
		for _, secret := range []string{"s3cret", "t0ken", ":pw@"} {
			if strings.Contains(got, secret) {
				t.Fatalf("Redacted(%q) leaks %q", in, secret)
			}
		}
	}
}
