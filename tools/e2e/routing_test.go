package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// TestRunnersServeOnlyTheirModels: each runner pulls only the models it
// announces; one serving both takes work of both; /v1/models says who
// serves what.
func TestRunnersServeOnlyTheirModels(t *testing.T) {
	s := newStack(t, "CYBERIMAGE_MODELS_DIR="+twoModels(t), "CYBERIMAGE_DEFAULT_MODEL=demo")
	s.startAll("runner-demo", "CYBERIMAGE_MODELS=demo")
	s.startRunner("runner-swirl", "CYBERIMAGE_MODELS=swirl")
	for i := range 6 {
		publish(t, s.nc, fmt.Sprintf(`{"prompt":"d%d","model":"demo","width":64,"height":64}`, i))
		publish(t, s.nc, fmt.Sprintf(`{"prompt":"s%d","model":"swirl","width":64,"height":64}`, i))
	}
	recs := s.waitEnded(12, time.Minute)
	for id, rec := range recs {
		require.Equal(t, job.StatusCompleted, rec.Status, id)
		require.Equal(t, "runner-"+rec.Spec.Model, rec.Runner, "job %s of model %s", id, rec.Spec.Model)
	}

	// A runner serving both models drains both queues.
	for i := range 4 {
		publish(t, s.nc, fmt.Sprintf(`{"prompt":"late d%d","model":"demo","width":64,"height":64}`, i))
		publish(t, s.nc, fmt.Sprintf(`{"prompt":"late s%d","model":"swirl","width":64,"height":64}`, i))
	}
	require.Eventually(t, func() bool { return s.jobsInStream() == 0 && len(s.records()) == 20 }, 10*time.Second, 20*time.Millisecond)
	var models struct {
		Models []struct {
			Name    string   `json:"name"`
			Runners []string `json:"runners"`
		} `json:"models"`
	}
	require.Equal(t, http.StatusOK, s.getJSON("/v1/models", &models))
	serves := map[string][]string{}
	for _, m := range models.Models {
		serves[m.Name] = m.Runners
	}
	require.Equal(t, map[string][]string{"demo": {"runner-demo"}, "swirl": {"runner-swirl"}}, serves)
}

// TestOneRunnerServesTwoModels: a runner announcing two models takes work
// queued for either, while no other runner is up.
func TestOneRunnerServesTwoModels(t *testing.T) {
	s := newStack(t, "CYBERIMAGE_MODELS_DIR="+twoModels(t), "CYBERIMAGE_DEFAULT_MODEL=demo")
	s.startIngest()
	for i := range 3 {
		publish(t, s.nc, fmt.Sprintf(`{"prompt":"d%d","model":"demo","width":64,"height":64}`, i))
		publish(t, s.nc, fmt.Sprintf(`{"prompt":"s%d","model":"swirl","width":64,"height":64}`, i))
	}
	s.startRunner("runner-both")
	recs := s.waitEnded(6, time.Minute)
	for id, rec := range recs {
		require.Equal(t, job.StatusCompleted, rec.Status, id)
		require.Equal(t, "runner-both", rec.Runner)
	}
	require.Zero(t, s.jobsInStream())
}
