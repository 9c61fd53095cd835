// Package stats summarises repeated timings for the benchmark programs that compare lakeport
// with its peers (render, check, diff): the median, and the spread around it.
package stats

import (
	"slices"
	"time"
)

// Median of the timings (the mean of the two middle ones for an even count).
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Min is the fastest timing.
func Min(ds []time.Duration) time.Duration { return slices.Min(ds) }

// Max is the slowest timing.
func Max(ds []time.Duration) time.Duration { return slices.Max(ds) }
