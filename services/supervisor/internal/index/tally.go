package index

import (
	"time"

	"cyberimage/shared/job"
	"cyberimage/shared/statusapi"
)

// Counts are the original app's queue counts, the jobs by status; the
// fields are statusapi's, which GET /status's readers decode.
type Counts statusapi.Counts

// of points at the count of status s (nil for a status not counted).
func (c *Counts) of(s job.Status) *int {
	switch s {
	case job.StatusQueued:
		return &c.Pending
	case job.StatusProcessing:
		return &c.Processing
	case job.StatusCompleted:
		return &c.Completed
	case job.StatusFailed:
		return &c.Failed
	case job.StatusCancelled:
		return &c.Cancelled
	case job.StatusRejected:
		return &c.Rejected
	}
	return nil
}

// add counts n more (or, negative, fewer) jobs of status s. Rejected
// requests are left out of total: they never became jobs, and the original
// never stored them.
func (c *Counts) add(s job.Status, n int) {
	if p := c.of(s); p != nil {
		*p += n
		if s != job.StatusRejected {
			c.Total += n
		}
	}
}

// Of is the count of one status.
func (c Counts) Of(s job.Status) int {
	if p := c.of(s); p != nil {
		return *p
	}
	return 0
}

// plus adds o's counts to c's.
func (c *Counts) plus(o Counts) {
	c.Pending += o.Pending
	c.Processing += o.Processing
	c.Completed += o.Completed
	c.Failed += o.Failed
	c.Rejected += o.Rejected
	c.Cancelled += o.Cancelled
	c.Total += o.Total
}

// Detailed adds the original's ?detailed=true figures.
type Detailed struct {
	Counts
	Recent24h Counts `json:"recent_24h"`
	// LastHour counts the jobs that ended in the last hour, by how; its
	// completed count over 3600 is the recent throughput.
	LastHour             EndedCounts       `json:"last_hour"`
	AvgProcessingSeconds float64           `json:"avg_processing_time_seconds"`
	PerModel             map[string]Counts `json:"models"`
	FailureRatePercent   float64           `json:"failure_rate"`
}

// EndedCounts are jobs that ended in a window, by how they ended.
type EndedCounts struct {
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
	// FailureRatePercent is failed ÷ (completed + failed).
	FailureRatePercent float64 `json:"failure_rate"`
}

// The rolling windows, kept as per-minute buckets: a read sums at most
// 1440 (or 60) of them, whatever the number of jobs.
const (
	recentWindow = 24 * time.Hour
	endedWindow  = time.Hour
)

// tally is every count the index reports, kept up to date change by
// change: O(models + minutes) in memory and per read, never O(jobs).
type tally struct {
	// Models holds the counts by model ("" for records without one);
	// their sum is the totals.
	Models map[string]Counts `json:"models"`
	// Created holds, by the minute jobs were created, the counts of the
	// last 24 hours' jobs by their status now.
	Created map[int64]Counts `json:"created"`
	// Ended holds, by the minute (server time) a job ended, how many
	// ended how.
	Ended map[int64]EndedCounts `json:"ended"`
	// BusySeconds over BusyJobs is the average processing time of
	// completed jobs.
	BusySeconds float64 `json:"busy_seconds"`
	BusyJobs    int     `json:"busy_jobs"`
}

func newTally() tally {
	return tally{Models: map[string]Counts{}, Created: map[int64]Counts{}, Ended: map[int64]EndedCounts{}}
}

func minuteOf(t time.Time) int64 { return t.Unix() / 60 }

// count adds n jobs of a model, created at created, in status s.
func (t *tally) count(model string, s job.Status, created time.Time, n int, now time.Time) {
	m := t.Models[model]
	m.add(s, n)
	t.Models[model] = m
	if now.Sub(created) > recentWindow+time.Minute {
		return // too old for the rolling figures
	}
	minute := minuteOf(created)
	c := t.Created[minute]
	c.add(s, n)
	if c == (Counts{}) {
		delete(t.Created, minute)
	} else {
		t.Created[minute] = c
	}
}

// ended notes a job that reached an ended status at server time at.
func (t *tally) ended(s job.Status, at, now time.Time) {
	if now.Sub(at) > endedWindow+time.Minute {
		return
	}
	minute := minuteOf(at)
	e := t.Ended[minute]
	switch s {
	case job.StatusCompleted:
		e.Completed++
	case job.StatusFailed:
		e.Failed++
	case job.StatusCancelled:
		e.Cancelled++
	default:
		return
	}
	t.Ended[minute] = e
}

// completed adds a completed job's processing time to the average.
func (t *tally) completed(rec job.Record) {
	if rec.StartedAt != nil && rec.CompletedAt != nil {
		t.BusySeconds += rec.CompletedAt.Sub(*rec.StartedAt).Seconds()
		t.BusyJobs++
	}
}

// prune drops the minutes that left the rolling windows.
func (t *tally) prune(now time.Time) {
	for m := range t.Created {
		if m < minuteOf(now.Add(-recentWindow)) {
			delete(t.Created, m)
		}
	}
	for m := range t.Ended {
		if m < minuteOf(now.Add(-endedWindow)) {
			delete(t.Ended, m)
		}
	}
}

func (t *tally) totals() Counts {
	var c Counts
	for _, m := range t.Models {
		c.plus(m)
	}
	return c
}

// detailed sums the figures as of now.
func (t *tally) detailed(now time.Time) Detailed {
	d := Detailed{Counts: t.totals(), PerModel: map[string]Counts{}}
	for model, c := range t.Models {
		if model != "" && c != (Counts{}) {
			d.PerModel[model] = c
		}
	}
	// A minute counts while any of it is inside the window: minute
	// buckets make the window up to a minute longer, never shorter.
	for m, c := range t.Created {
		if m >= minuteOf(now.Add(-recentWindow)) {
			d.Recent24h.plus(c)
		}
	}
	for m, e := range t.Ended {
		if m >= minuteOf(now.Add(-endedWindow)) {
			d.LastHour.Completed += e.Completed
			d.LastHour.Failed += e.Failed
			d.LastHour.Cancelled += e.Cancelled
		}
	}
	if ended := d.LastHour.Completed + d.LastHour.Failed; ended > 0 {
		d.LastHour.FailureRatePercent = 100 * float64(d.LastHour.Failed) / float64(ended)
	}
	if t.BusyJobs > 0 {
		d.AvgProcessingSeconds = t.BusySeconds / float64(t.BusyJobs)
	}
	if ended := d.Completed + d.Failed; ended > 0 {
		d.FailureRatePercent = 100 * float64(d.Failed) / float64(ended)
	}
	return d
}

func (t *tally) clone() tally {
	c := tally{Models: make(map[string]Counts, len(t.Models)), Created: make(map[int64]Counts, len(t.Created)),
		Ended: make(map[int64]EndedCounts, len(t.Ended)), BusySeconds: t.BusySeconds, BusyJobs: t.BusyJobs}
	for k, v := range t.Models {
		c.Models[k] = v
	}
	for k, v := range t.Created {
		c.Created[k] = v
	}
	for k, v := range t.Ended {
		c.Ended[k] = v
	}
	return c
}
