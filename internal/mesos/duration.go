package mesos

import (
	"strconv"
	"time"

	mesostime "github.com/mesos/mesos-go/api/v1/lib/time"
)

// FormatDuration formats d in Mesos units (ns us ms secs mins hrs days
// weeks), using the largest unit that represents d exactly, e.g. "5secs",
// "15mins", "1500ms". mesos-go's executor/config rejects Go's "5s".
func FormatDuration(d time.Duration) string {
	units := []struct {
		name string
		d    time.Duration
	}{
		{"weeks", 7 * 24 * time.Hour}, {"days", 24 * time.Hour}, {"hrs", time.Hour},
		{"mins", time.Minute}, {"secs", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond},
	}
	if d == 0 {
		return "0secs"
	}
	for _, u := range units {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// ParseDuration parses a duration in Mesos units ("5secs", "1.5mins").
func ParseDuration(s string) (time.Duration, error) { return mesostime.ParseDuration(s) }
