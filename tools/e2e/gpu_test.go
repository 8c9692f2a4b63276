package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// hasNVIDIAGPU tells whether the driver lists a GPU on this machine.
func hasNVIDIAGPU() bool {
	out, err := exec.Command("nvidia-smi", "-L").Output()
	return err == nil && strings.Contains(string(out), "GPU ")
}

// TestRunnerRequiringAGPU: CYBERIMAGE_REQUIRE_GPU=true makes a usable GPU a
// precondition. Where there is none (no driver, or no CUDA provider
// libraries beside the ORT library) the runner refuses to start and says
// why, instead of quietly running on the CPU; where there is one (`make
// gpu-check` on a GPU machine runs this test there) it runs on it: its
// heartbeat names the GPU in use and a demo job completes.
func TestRunnerRequiringAGPU(t *testing.T) {
	s := newStack(t)
	s.startServices()
	if !hasNVIDIAGPU() {
		p := s.start("runner-gpu", "gpu-runner", "CYBERIMAGE_RUNNER_ID=runner-gpu", "CYBERIMAGE_REQUIRE_GPU=true")
		select {
		case <-p.exited:
		case <-time.After(time.Minute):
			t.Fatal("a runner requiring a GPU kept running on a machine without one")
		}
		require.NotZero(t, p.cmd.ProcessState.ExitCode())
		require.Contains(t, s.serviceLog("runner-gpu"), "CYBERIMAGE_REQUIRE_GPU=true but no GPU is used")
		return
	}
	s.startRunner("runner-gpu", "CYBERIMAGE_REQUIRE_GPU=true")
	hb := lastHeartbeat(t, s, "runner-gpu")
	require.True(t, strings.HasPrefix(hb.Device, "cuda"), "device %q", hb.Device)
	inUse := 0
	for _, g := range hb.GPUs {
		if g.InUse {
			inUse++
			require.NotZero(t, g.MemoryTotal, "NVML reads the GPU's memory")
		}
	}
	require.Positive(t, inUse, "the heartbeat names the GPU in use: %+v", hb.GPUs)
	rec := waitCompleted(t, s, request(t, s.client, fmtReq("on the GPU", 512, 512, 4, "")).JobID, 2*time.Minute)
	require.Equal(t, job.StatusCompleted, rec.Status)
	require.Equal(t, "runner-gpu", rec.Runner)
}
