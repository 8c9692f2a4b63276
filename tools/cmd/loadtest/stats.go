package main

import "time"

// roundDur rounds a duration for display: milliseconds under a minute.
func roundDur(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
