package schedulerlite

import (
	"runtime/debug"
	"strings"
)

// GCPercent is the Go garbage collector's target (GOGC) a scheduler
// process runs with unless its environment sets GOGC. A launch round
// allocates in a burst (~17 KB a pod: a 200-pod round 3.4 MB) on a fresh
// scheduler's small heap (2–4 MB live, so a 4–9 MB goal with Go's default
// of 100): at 100 the round ran one or more collections, with their
// assists and stop-the-world pauses waiting for a CPU beside hundreds of
// starting tasks. 300 leaves room for such a round at the cost of a
// larger heap (bench/scheduler.sh, 200 pods: RSS 28 → 34 MiB, the launch
// round's offers.process 6 → 3.7 ms; 1,000 tasks: RSS 36 → 52 MiB). See
// docs/decisions.md.
const GCPercent = 300

// TuneGC sets the garbage collector's target to GCPercent unless environ
// sets GOGC (Go's own variable, which then applies as Go documents it). It
// is process-wide: scheduler-lite's main calls it; Run does not.
func TuneGC(environ []string) {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "GOGC=") {
			return
		}
	}
	debug.SetGCPercent(GCPercent)
}
