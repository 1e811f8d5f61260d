package schedulerlite

import (
	"runtime/debug"
	"testing"
)

// TestTuneGC: the scheduler's GC target is GCPercent, unless GOGC is set,
// which Go has applied already and TuneGC leaves alone.
func TestTuneGC(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	for _, tc := range []struct {
		name    string
		environ []string
		want    int
	}{
		{"unset", []string{"PATH=/bin", "GOGCX=1"}, GCPercent},
		{"set", []string{"GOGC=50"}, 100},
		{"set off", []string{"PATH=/bin", "GOGC=off"}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			TuneGC(tc.environ)
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GC percent %d after TuneGC(%q), want %d", got, tc.environ, tc.want)
			}
		})
	}
}
