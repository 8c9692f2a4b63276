package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // screenshots may come as either
	_ "image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// chromium finds the headless browser for the console tests: Debian's
// chromium, which make test installs when missing, or CYBERIMAGE_CHROMIUM.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CYBERIMAGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium: make test-tools installs Debian's chromium (apt-get install chromium), or set CYBERIMAGE_CHROMIUM")
	return ""
}

// TestConsole drives the console in headless Chromium against a live stack:
// the overview shows the stack's counts; a job submitted through the API
// appears and its progress advances without a reload; the gallery shows
// its thumbnail; cancel and retry work from the page. A screenshot of each
// page is saved for review (test-output/console/, logged).
func TestConsole(t *testing.T) {
	browser := chromium(t)
	s := newStack(t)
	// Quotas for the clients page to show (the supervisor's copy: ingest
	// enforces none here).
	s.startSupervisor("CYBERIMAGE_QUOTAS=*=1000/600 console-client=5/10")
	s.startIngest()
	s.startRunner("runner-1")
	shots := repoPath(t, "test-output", "console")
	require.NoError(t, os.MkdirAll(shots, 0o755))

	// A finished job for the overview's counts and the gallery.
	done := request(t, s.client, fmtReq("console gallery", 512, 512, 1, ""))
	waitCompleted(t, s, done.JobID, time.Minute)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()
	// Every confirm() is answered yes; the admin token prompt gets the
	// token.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true, PromptText: testAdminToken})
		}
	}()
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...))
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		path := filepath.Join(shots, name+".png")
		require.NoError(t, os.WriteFile(path, png, 0o644))
		require.GreaterOrEqual(t, colours(t, png), 4, "screenshot %s is not blank", name)
		t.Logf("screenshot: %s", path)
	}
	// text reads an element's text in one script evaluation: the page
	// re-renders live, and a node-id lookup followed by a separate read
	// fails ("No node with given id found") when the node is replaced in
	// between. A missing element or a failed read (a navigation under way)
	// reads as "", so polling loops keep polling and other callers fail on
	// the value they assert.
	text := func(sel string) string {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ""`, sel)))
		if err != nil {
			t.Logf("reading %s: %v", sel, err)
			return ""
		}
		return strings.TrimSpace(v)
	}
	// count is how many elements match sel now.
	count := func(sel string) int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
		if err != nil {
			t.Logf("counting %s: %v", sel, err)
		}
		return n
	}
	// drawn waits until every chart of the page has a line: the SVG is
	// drawn from the supervisor's figures.
	drawn := func(charts ...string) {
		t.Helper()
		for _, c := range charts {
			require.Eventually(t, func() bool { return count(c+" svg path") > 0 }, 30*time.Second, 100*time.Millisecond, "chart %s has lines", c)
		}
	}

	// Overview: the counts are the stack's.
	do(chromedp.Navigate(s.url("/")), chromedp.WaitVisible(chromedp.CSS("#count-completed")), chromedp.WaitVisible(chromedp.CSS("#runners")))
	var q map[string]any
	require.Equal(t, http.StatusOK, s.getJSON("/api/queue", &q))
	require.Equal(t, fmt.Sprint(q["completed"]), text("#count-completed"))
	require.Contains(t, text("#runners"), "runner-1")
	// The charts: throughput, latency and queue depth over the last hour
	// and day, the finished job counted in the window's totals.
	drawn("#chart-throughput", "#chart-latency")
	require.Equal(t, 1, count("#chart-depth-model"))
	require.Contains(t, text("#window-totals"), "1 completed")
	shot("overview")
	do(chromedp.Navigate(s.url("/#/?window=24h")), chromedp.WaitVisible(chromedp.CSS("#chart-throughput")))
	drawn("#chart-throughput", "#chart-latency")
	shot("overview-24h")

	// A job submitted through the API: its page follows the progress live.
	code, sub := postJSON(t, s.url("/v1/jobs"), fmtReq("console live", 1024, 1024, 2, `,"steps":16`))
	require.Equal(t, http.StatusAccepted, code, sub)
	id := sub["job_id"].(string)
	do(chromedp.Navigate(s.url("/#/job/"+id)), chromedp.WaitVisible(chromedp.CSS("#step")))
	seen := map[string]bool{}
	deadline := time.Now().Add(time.Minute)
	poll := time.NewTicker(50 * time.Millisecond) // how often the page's step is read
	defer poll.Stop()
	for time.Now().Before(deadline) && text("#job-status") != "completed" {
		seen[text("#step")] = true
		<-poll.C
	}
	require.Equal(t, "completed", text("#job-status"), "the page saw the job end without a reload")
	require.GreaterOrEqual(t, len(seen), 3, "progress advanced on the page: %v", seen)
	do(chromedp.WaitVisible(chromedp.CSS(".images img")))
	require.Equal(t, "http:local", text("#job-client"), "the job page says who sent it, after a runner claimed it too")
	shot("job")

	// The jobs list has both jobs.
	do(chromedp.Navigate(s.url("/#/jobs")), chromedp.WaitVisible(chromedp.CSS("#jobs")))
	require.Contains(t, text("#jobs"), id)
	require.Contains(t, text("#jobs"), done.JobID)
	shot("jobs")
	// Search on the prompt, as typed into the page's filter.
	do(chromedp.Navigate(s.url("/#/jobs")), chromedp.WaitVisible(chromedp.CSS("#search")),
		chromedp.SendKeys(chromedp.CSS("#search"), "GALLERY\n"), chromedp.WaitVisible(chromedp.CSS("#jobs")))
	require.Eventually(t, func() bool {
		found := text("#jobs")
		return strings.Contains(found, done.JobID) && !strings.Contains(found, id)
	}, 10*time.Second, 100*time.Millisecond, "the prompt search found the gallery job alone")
	require.NotContains(t, text("main"), "null", "no stray values on the page")
	shot("jobs-search")

	// Clients: each one's use beside its quota, and its jobs a click away.
	do(chromedp.Navigate(s.url("/#/clients")), chromedp.WaitVisible(chromedp.CSS("#clients")))
	require.Contains(t, text("#clients"), "console-client", "named by the quotas")
	require.Contains(t, text("#clients"), "0 / 5")
	require.Contains(t, text("#default-limits"), "1000 queued, 600 a minute")
	shot("clients")
	do(chromedp.Navigate(s.url("/#/jobs?client=default")), chromedp.WaitVisible(chromedp.CSS("#jobs")))
	require.Contains(t, text("#jobs"), done.JobID, "the job sent on the bare subject is the default client's")

	// The gallery shows thumbnails.
	do(chromedp.Navigate(s.url("/#/gallery")), chromedp.WaitVisible(chromedp.CSS("#gallery img")))
	src, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#gallery img"), "src"))
	require.NoError(t, err)
	require.Contains(t, src.Value, ".thumb.png")
	// Images fill the tile whatever their own size.
	fits := `(() => { const i = document.querySelector("#gallery img"), f = i?.closest("figure");
		return Boolean(f) && i.complete && i.naturalWidth > 0 &&
			Math.abs(i.getBoundingClientRect().width - (f.clientWidth - 2 * parseFloat(getComputedStyle(f).paddingLeft))) < 2; })()`
	require.Eventually(t, func() bool {
		fit, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fits))
		return err == nil && fit
	}, 10*time.Second, 100*time.Millisecond, "the gallery's image is loaded and as wide as its tile")
	shot("gallery")

	// Cancel from the page: a long job, cancelled while it runs or waits.
	long := request(t, s.client, fmtReq("console cancel", 1024, 1024, 4, `,"steps":50`))
	do(chromedp.Navigate(s.url("/#/job/"+long.JobID)), chromedp.WaitVisible(chromedp.CSS("#cancel")), chromedp.Click(chromedp.CSS("#cancel")))
	require.Eventually(t, func() bool { return text("#job-status") == "cancelled" }, 30*time.Second, 100*time.Millisecond)
	shot("cancelled")

	// Retry from the page: a failed job goes back to the queue and runs.
	failed := job.Record{JobID: "console-failed", Status: job.StatusFailed, CreatedAt: time.Now().UTC(),
		Spec:  job.Spec{Prompt: "retry me", Model: "demo", Width: 64, Height: 64, Steps: 2, Seed: 1, NumImages: 1},
		Error: &job.Failure{Code: "test", Message: "failed for the test"}}
	_, err = s.store.Create(context.Background(), failed)
	require.NoError(t, err)
	do(chromedp.Navigate(s.url("/#/job/"+failed.JobID)), chromedp.WaitVisible(chromedp.CSS("#retry")), chromedp.Click(chromedp.CSS("#retry")))
	require.Eventually(t, func() bool {
		rec, _, err := s.store.Get(context.Background(), failed.JobID)
		return err == nil && rec.Status != job.StatusFailed
	}, 30*time.Second, 100*time.Millisecond, "the page re-queued the failed job")
	waitCompleted(t, s, failed.JobID, time.Minute)
	require.Eventually(t, func() bool {
		_ = chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#job-status")))
		return text("#job-status") == "completed"
	}, 30*time.Second, 500*time.Millisecond)
	shot("retried")

	// Dead letters: one re-queued from the page (it runs again), one
	// deleted (its record stays).
	deadLetter := func(id string) {
		t.Helper()
		rec := job.Record{JobID: id, Status: job.StatusFailed, CreatedAt: time.Now().UTC(),
			Spec:  job.Spec{Prompt: "dead " + id, Model: "demo", Width: 64, Height: 64, Steps: 2, Seed: 1, NumImages: 1},
			Error: &job.Failure{Code: "max_deliveries", Message: "out of deliveries"}}
		_, err := s.store.Create(context.Background(), rec)
		require.NoError(t, err)
		_, err = s.js.PublishMsg(context.Background(), bus.EncodeDeadLetter(bus.DeadLetter{Model: "demo", JobID: id, Reason: "out of deliveries",
			Deliveries: 5, StreamSeq: uint64(time.Now().UnixNano()), Work: bus.EncodeWork(bus.RequeueWork(rec))}))
		require.NoError(t, err)
	}
	deadLetter("console-dead-1")
	deadLetter("console-dead-2")
	do(chromedp.Navigate(s.url("/#/dead-letters")), chromedp.WaitVisible(chromedp.CSS("#dead-letters")))
	require.Contains(t, text("#dead-letters"), "console-dead-1")
	require.Contains(t, text("#dead-letters"), "out of deliveries")
	shot("dead-letters")
	do(chromedp.Click(chromedp.CSS(`.requeue[data-job="console-dead-1"]`)))
	require.Eventually(t, func() bool {
		rec, _, err := s.store.Get(context.Background(), "console-dead-1")
		return err == nil && rec.Status != job.StatusFailed
	}, 30*time.Second, 100*time.Millisecond, "the page re-queued the dead letter's job: %s", text("#message"))
	waitCompleted(t, s, "console-dead-1", time.Minute)
	require.Eventually(t, func() bool { return !strings.Contains(text("#dead-letters"), "console-dead-1") }, 10*time.Second, 100*time.Millisecond,
		"the re-queued job's letter left the page: %s", text("#message"))
	do(chromedp.Click(chromedp.CSS(`.delete[data-job="console-dead-2"]`)))
	require.Eventually(t, func() bool { return text("#no-dead-letters") != "" }, 10*time.Second, 100*time.Millisecond, "the letter was deleted: %s", text("#message"))
	require.Equal(t, job.StatusFailed, s.record("console-dead-2").Status, "deleting a letter leaves the record")
	shot("dead-letters-empty")

	// Runners, one runner (its load over time, recent jobs), models and
	// one model (its throughput and queue depth).
	do(chromedp.Navigate(s.url("/#/runners")), chromedp.WaitVisible(chromedp.CSS("#runners")))
	require.Contains(t, text("#runners"), "runner-1")
	shot("runners")
	require.Eventually(t, func() bool {
		_ = chromedp.Do(ctx, chromedp.Navigate(s.url("/#/runner/runner-1")), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#runner-health")))
		return count("#chart-busy svg path") > 0
	}, 45*time.Second, time.Second, "the runner's load was sampled (every 15 s)")
	require.Contains(t, text("#runner-recent"), "console-dead-1", "its recent jobs")
	require.Equal(t, "healthy", text("#runner-health"))
	shot("runner")
	// Drain and undrain: the button calls the route, the page shows the
	// runner draining, and the runner says so too; undrained, it does not.
	toggled := func(button, message string) string {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("message").textContent = ""`))
		require.NoError(t, err)
		do(chromedp.Click(chromedp.CSS(button)))
		require.Eventually(t, func() bool { return text(message) != "" }, 10*time.Second, 100*time.Millisecond, "%s answered", button)
		return text(message)
	}
	require.Equal(t, "Done.", toggled("#drain", "#message"), "drain")
	require.Eventually(t, func() bool { return text("#runner-draining") != "" }, 10*time.Second, 100*time.Millisecond)
	s.waitDrained("runner-1", true)
	shot("runner-draining")
	require.Equal(t, "Done.", toggled("#drain", "#message"), "undrain")
	require.Eventually(t, func() bool { return text("#runner-draining") == "" }, 10*time.Second, 100*time.Millisecond)
	s.waitDrained("runner-1", false)
	do(chromedp.Navigate(s.url("/#/models")), chromedp.WaitVisible(chromedp.CSS("#models")))
	require.Contains(t, text("#models"), "demo")
	shot("models")
	do(chromedp.Navigate(s.url("/#/model/demo")), chromedp.WaitVisible(chromedp.CSS("#model-state")))
	drawn("#chart-model-throughput")
	require.NotEqual(t, "0", text("#model-completed"))
	require.Contains(t, text("#model-jobs"), "console-dead-1")
	shot("model")
	require.Equal(t, "Done.", toggled("#pause", "#message"), "pause")
	require.Contains(t, text("#model-state"), "paused")
	require.True(t, s.modelPaused("demo"))
	shot("model-paused")
	require.Equal(t, "Done.", toggled("#pause", "#message"), "resume")
	require.Contains(t, text("#model-state"), "taking work")
	require.False(t, s.modelPaused("demo"))
}

// colours counts the distinct colours on a grid of points of a
// screenshot: a blank page has one.
func colours(t *testing.T, data []byte) int {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			seen[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)] = true
		}
	}
	return len(seen)
}
