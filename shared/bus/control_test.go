package bus

import (
	"testing"
	"time"
)

// TestDrainOrderRoundTrip: drain and undrain orders keep their wire form,
// need no id or job, and expire like every order.
func TestDrainOrderRoundTrip(t *testing.T) {
	roundTrip(t, DrainOrder(true, "operator request", wireAt),
		`{"action":"drain","expires_at":"2026-12-01T10:01:00Z","reason":"operator request","at":"2026-12-01T10:00:00Z"}`,
		EncodeControl, DecodeControl)
	roundTrip(t, DrainOrder(false, "", wireAt),
		`{"action":"undrain","expires_at":"2026-12-01T10:01:00Z","at":"2026-12-01T10:00:00Z"}`,
		EncodeControl, DecodeControl)
	for _, data := range []string{`{"action":"drain"}`, `{"action":"undrain","reason":"x"}`} {
		if _, err := DecodeControl([]byte(data)); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
	}
	if _, err := DecodeControl([]byte(`{"action":"drained"}`)); err == nil {
		t.Fatal("an unknown action was accepted")
	}
	order := DrainOrder(true, "", wireAt)
	if order.Expired(wireAt.Add(OrderTTL)) || !order.Expired(wireAt.Add(OrderTTL+OrderClockTolerance+time.Second)) {
		t.Fatalf("drain order expiry %s", order.ExpiresAt)
	}
}
