package statusapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
)

// TestStatusJSON pins GET /status's layout: names, order and which fields
// are left out when empty. Its readers (the CLI, scripts, dashboards)
// read this JSON; a change here changes what they see. The supervisor's
// api test decodes its own answer into Status.
func TestStatusJSON(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	st := Status{
		Queue: Queue{Pending: 1, InProgress: 2, Redelivered: 3, Dead: 4},
		Jobs:  Counts{Pending: 1, Processing: 2, Completed: 3, Failed: 4, Rejected: 5, Cancelled: 6, Total: 7},
		JobsInProgress: []InProgress{{JobID: "j", Model: "m", Runner: "r1", Attempt: 1, Deliveries: 2, Delivery: "d", StartedAt: &at,
			ElapsedSeconds: 1.5, Step: 3, TotalSteps: 8, LastProgress: &at}, {JobID: "k"}},
		Runners: []Runner{{Heartbeat: bus.Heartbeat{Runner: "r1"}, Health: "healthy", Draining: true, DrainPending: true},
			{Heartbeat: bus.Heartbeat{Runner: "r2", Draining: true}, Health: "lost"}},
		Models: []Model{{Name: "a", Paused: true}, {Name: "b"}},
		Recoveries: []Recovery{{At: at, Kind: "stalled", JobID: "j", Runner: "r", Attempt: 2, Delivery: "d", Reason: "x", ElapsedSeconds: 2.5},
			{At: at, Kind: "reload", Reason: "y"}},
		RecoveryCounts: map[string]int64{"stalled": 1, "reload": 2},
		Supervisor:     Supervisor{Leader: true, Holder: "s"},
		At:             at,
	}
	const zeroBeat = `"host":"","pid":0,"models":null,"slots":0,"busy":0,"device":"","started":"0001-01-01T00:00:00Z","at":"0001-01-01T00:00:00Z","jobs":null`
	want := `{"queue":{"pending":1,"in_progress":2,"redelivered":3,"dead":4},` +
		`"jobs":{"pending":1,"processing":2,"completed":3,"failed":4,"rejected":5,"cancelled":6,"total":7},` +
		`"jobs_in_progress":[{"job_id":"j","model":"m","runner":"r1","attempt":1,"deliveries":2,"delivery":"d","started_at":"2030-01-02T03:04:05Z",` +
		`"elapsed_seconds":1.5,"step":3,"total_steps":8,"last_progress":"2030-01-02T03:04:05Z"},` +
		`{"job_id":"k","model":"","runner":"","attempt":0,"deliveries":0,"elapsed_seconds":0,"step":0,"total_steps":0}],` +
		`"runners":[{"runner":"r1",` + zeroBeat + `,"health":"healthy","draining":true,"drain_pending":true},` +
		`{"runner":"r2",` + zeroBeat + `,"health":"lost","draining":false}],` +
		`"models":[{"name":"a","paused":true},{"name":"b","paused":false}],` +
		`"recoveries":[{"at":"2030-01-02T03:04:05Z","kind":"stalled","job_id":"j","runner":"r","attempt":2,"delivery":"d","reason":"x","elapsed_seconds":2.5},` +
		`{"at":"2030-01-02T03:04:05Z","kind":"reload","reason":"y"}],` +
		`"recovery_counts":{"reload":2,"stalled":1},"supervisor":{"leader":true,"leader_id":"s"},"at":"2030-01-02T03:04:05Z"}`
	got, err := json.Marshal(st)
	require.NoError(t, err)
	require.Equal(t, want, string(got))
}
