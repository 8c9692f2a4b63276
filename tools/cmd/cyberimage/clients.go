package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"cyberimage/shared/quota"
)

// clientsReply is GET /v1/clients: each client's use beside its limits.
type clientsReply struct {
	Clients []struct {
		Client             string       `json:"client"`
		Queued             int          `json:"queued"`
		Running            int          `json:"running"`
		AcceptedLastMinute int          `json:"accepted_last_minute"`
		Limits             quota.Limits `json:"limits"`
	} `json:"clients"`
	DefaultLimits quota.Limits `json:"default_limits"`
}

// showClients prints one line per client: its queued jobs against its
// cap, running jobs, and jobs accepted in the last minute against its
// rate ("-": no limit).
func showClients(c *client, out io.Writer) error {
	var r clientsReply
	if err := c.getJSON("/v1/clients", &r); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tQUEUED/MAX\tRUNNING\tACCEPTED LAST MIN/LIMIT")
	for _, cl := range r.Clients {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", cl.Client, ofLimit(cl.Queued, cl.Limits.MaxQueued), cl.Running,
			ofLimit(cl.AcceptedLastMinute, cl.Limits.PerMinute))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	d := r.DefaultLimits
	fmt.Fprintf(out, "other clients' limits: max queued %s, per minute %s\n", limitText(d.MaxQueued), limitText(d.PerMinute))
	return nil
}

// ofLimit is "n/limit", or "n/-" without a limit.
func ofLimit(n, limit int) string { return strconv.Itoa(n) + "/" + limitText(limit) }

// limitText is a limit, "-" for none (0).
func limitText(limit int) string {
	if limit <= 0 {
		return "-"
	}
	return strconv.Itoa(limit)
}
