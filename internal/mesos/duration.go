package mesos

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
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

// ParseDuration parses a duration as stout's Duration::parse does
// (3rdparty/stout/include/stout/duration.hpp, Mesos 1.11), the parser of
// every duration Mesos reads (flags, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD):
// a number of ASCII digits and dots, then one of the units ns, us, ms,
// secs, mins, hrs, days, weeks, nothing else ("5secs", "1.5mins", "1.secs",
// ".5secs"). The number is a float64 (stout's numify<double>: "." and
// "1.2.3" are not numbers) and the result its product with the unit in
// nanoseconds, truncated toward zero ("1.9ns" is 1ns). There is no sign:
// stout reads neither "-" nor "+" (its parse has a TODO for negative
// durations), so "-5secs" is an error, as are spaces, an exponent ("1e3secs"),
// Go's units ("5s") and a missing number or unit. A product of 2^63 ns or
// more is out of range, an error; stout lets exactly 2^63 through its
// range check (a double compared with INT64_MAX rounded up) into an
// overflow to a negative duration, and mesos-go's lib/time turns every
// out-of-range value into one, which is why this parser is not mesos-go's.
// The error names s.
func ParseDuration(s string) (time.Duration, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		return 0, fmt.Errorf("invalid duration %q: want a number and a unit (%s), e.g. 5secs", s, unitNames())
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %q is not a number (of digits and a dot; no sign)", s, s[:i])
	}
	for _, u := range durationUnits {
		if u.name != s[i:] {
			continue
		}
		ns := v * float64(u.ns)
		if ns >= 1<<63 {
			return 0, fmt.Errorf("invalid duration %q: out of range (at most %s)", s, FormatDuration(math.MaxInt64))
		}
		return time.Duration(ns), nil
	}
	return 0, fmt.Errorf("invalid duration %q: unknown unit %q (want %s)", s, s[i:], unitNames())
}

// unitNames lists stout's duration units for errors: "ns, us, ..., weeks".
func unitNames() string {
	names := make([]string, len(durationUnits))
	for i, u := range durationUnits {
		names[i] = u.name
	}
	return strings.Join(names, ", ")
}
