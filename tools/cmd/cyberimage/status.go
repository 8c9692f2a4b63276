package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"cyberimage/shared/statusapi"
)

// recentRecoveries is how many recoveries the summary lists.
const recentRecoveries = 5

// showStatus prints a summary of GET /status.
func showStatus(c *client, out io.Writer) error {
	var st statusapi.Status
	if err := c.getJSON("/status", &st); err != nil {
		return err
	}
	now := st.At
	if now.IsZero() {
		now = time.Now()
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	leader := st.Supervisor.Holder
	if st.Supervisor.Leader {
		leader += " (this one)"
	}
	fmt.Fprintf(tw, "supervisor\t%s\tleader %s\n", c.base, orDash(leader))
	fmt.Fprintf(tw, "work queue\tpending %d, in progress %d, redelivered %d, dead letters %d\n",
		st.Queue.Pending, st.Queue.InProgress, st.Queue.Redelivered, st.Queue.Dead)
	fmt.Fprintf(tw, "jobs\t%s\n", jobCounts(st.Jobs))
	var paused []string
	for _, m := range st.Models {
		if m.Paused {
			paused = append(paused, m.Name)
		}
	}
	if len(paused) > 0 {
		fmt.Fprintf(tw, "paused models\t%s (their jobs wait: cyberimage resume <model>)\n", strings.Join(paused, ", "))
	}
	tw.Flush()

	fmt.Fprintf(out, "\nrunners (%d)\n", len(st.Runners))
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  RUNNER\tHEALTH\tDEVICE\tBUSY/SLOTS\tMODELS\tHOST\tLAST HEARD")
	for _, r := range st.Runners {
		health := r.Health
		if r.Draining {
			health += ",draining"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d/%d\t%s\t%s\t%s ago\n", r.Runner, health, orDash(r.Device), r.Busy, r.Slots,
			orDash(strings.Join(r.Models, ",")), orDash(r.Host), now.Sub(r.At).Round(100*time.Millisecond))
	}
	tw.Flush()

	fmt.Fprintf(out, "\njobs in progress (%d)\n", len(st.JobsInProgress))
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if len(st.JobsInProgress) > 0 {
		fmt.Fprintln(tw, "  JOB\tMODEL\tRUNNER\tATTEMPT\tSTEP\tELAPSED")
	}
	for _, j := range st.JobsInProgress {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d/%d\t%s\n", j.JobID, j.Model, orDash(j.Runner), j.Attempt, j.Step, j.TotalSteps,
			time.Duration(j.ElapsedSeconds*float64(time.Second)).Round(100*time.Millisecond))
	}
	tw.Flush()

	if n := len(st.Recoveries); n > 0 {
		shown := st.Recoveries[max(0, n-recentRecoveries):]
		fmt.Fprintf(out, "\nrecoveries (%d recent, last %d)\n", n, len(shown))
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  AT\tKIND\tJOB\tRUNNER\tREASON")
		for _, r := range shown {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", r.At.Format(time.RFC3339), r.Kind, orDash(r.JobID), orDash(r.Runner), r.Reason)
		}
		tw.Flush()
	}
	return nil
}

// jobCounts prints counts by status in lifecycle order.
func jobCounts(c statusapi.Counts) string {
	return fmt.Sprintf("total %d, pending %d, processing %d, completed %d, failed %d, cancelled %d, rejected %d",
		c.Total, c.Pending, c.Processing, c.Completed, c.Failed, c.Cancelled, c.Rejected)
}

// orDash is s, or "-" for a blank column.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
