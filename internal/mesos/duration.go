package mesos

import (
	"math"
	"strconv"
	"time"

	mesostime "github.com/mesos/mesos-go/api/v1/lib/time"
)

// durationUnits are stout's Duration units, smallest first, in
// nanoseconds.
var durationUnits = [...]struct {
	name string
	ns   int64
}{
	{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"secs", 1e9}, {"mins", 60e9}, {"hrs", 3600e9}, {"days", 86400e9}, {"weeks", 604800e9},
}

// FormatDuration formats d as stout's Duration operator<< does
// (3rdparty/stout/include/stout/duration.hpp), the form Mesos writes
// durations in (flags, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD, messages):
// in the largest unit (ns us ms secs mins hrs days weeks) not larger than
// |d|, or one unit smaller when d is not a whole number of the first but
// is of the second; a count of nanoseconds as an integer, of any other unit
// with 15 significant digits and no trailing zeros (C++'s stream precision
// digits10, "%.15g"). "-" leads a negative d. For example "0ns", "1500ms",
// "90secs", "1.0625days", "10days", "1weeks" (also one nanosecond more).
// math.MinInt64 is printed as math.MaxInt64 with a "-", as stout prints
// Duration::min(). mesos-go's executor/config rejects Go's "5s".
func FormatDuration(d time.Duration) string {
	sign, ns := "", int64(d)
	if ns < 0 {
		sign, ns = "-", -ns
		if ns < 0 { // math.MinInt64
			ns = math.MaxInt64
		}
	}
	i := len(durationUnits) - 1
	for i > 0 && ns < durationUnits[i].ns {
		i--
	}
	if i > 0 && ns%durationUnits[i].ns != 0 && ns%durationUnits[i-1].ns == 0 {
		i--
	}
	if i == 0 {
		return sign + strconv.FormatInt(ns, 10) + "ns"
	}
	u := durationUnits[i]
	return sign + strconv.FormatFloat(float64(ns)/float64(u.ns), 'g', 15, 64) + u.name
}

// ParseDuration parses a duration in Mesos units ("5secs", "1.5mins").
func ParseDuration(s string) (time.Duration, error) { return mesostime.ParseDuration(s) }
