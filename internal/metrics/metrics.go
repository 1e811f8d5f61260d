// Package metrics is scheduler-lite's small metrics registry: named counters
// and timers, shown as JSON at /v1/metrics (the SDK's counters and timer
// quantiles over the last 8192 samples) and in the Prometheus text
// exposition format at /v1/metrics/prometheus, which
// github.com/VictoriaMetrics/metrics writes: counters as counters, timers as
// summaries over a five-minute window (quantiles 0.5, 0.95, 0.99, seconds).
//
// Names use dots ("offers.received"); the Prometheus form replaces every
// character outside [a-zA-Z0-9_] with "_" and prefixes the registry's
// namespace.
package metrics

import (
	vm "github.com/VictoriaMetrics/metrics"

	"io"
	"math"
	"regexp"
	"sort"
	"sync"
	"time"
)

// timerWindow is how many recent samples a timer keeps for its quantiles.
const timerWindow = 8192

// Registry holds counters and timers. The zero value is not usable; use New.
// It is safe for concurrent use.
type Registry struct {
	namespace string
	prom      *vm.Set // the Prometheus exposition
	mu        sync.Mutex
	counters  map[string]int64
	timers    map[string]*timer
	// promCounters and promSummaries are the Prometheus series by name,
	// found once: promName's regexp is too dear for every Add and Observe
	// (a launch round adds hundreds of times).
	promCounters  map[string]*vm.Counter
	promSummaries map[string]*vm.Summary
}

// summaryWindow and summaryQuantiles shape the Prometheus summaries.
var (
	summaryWindow    = 5 * time.Minute
	summaryQuantiles = []float64{0.5, 0.95, 0.99}
)

type timer struct {
	count   int64
	sum     time.Duration
	max     time.Duration
	samples []time.Duration // ring
	next    int
}

// New returns an empty registry whose Prometheus names start with
// namespace + "_".
func New(namespace string) *Registry {
	vm.ExposeMetadata(true) // # HELP and # TYPE lines (a process-wide setting)
	return &Registry{namespace: namespace, prom: vm.NewSet(), counters: map[string]int64{}, timers: map[string]*timer{},
		promCounters: map[string]*vm.Counter{}, promSummaries: map[string]*vm.Summary{}}
}

// Add adds n to counter name.
func (r *Registry) Add(name string, n int64) {
	r.mu.Lock()
	r.counters[name] += n
	c := r.promCounters[name]
	if c == nil {
		c = r.prom.GetOrCreateCounter(r.promName(name) + "_total")
		r.promCounters[name] = c
	}
	r.mu.Unlock()
	c.Add(int(n))
}

// Inc adds one to counter name.
func (r *Registry) Inc(name string) { r.Add(name, 1) }

// Counter returns counter name's value.
func (r *Registry) Counter(name string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counters[name]
}

// Observe records one duration in timer name.
func (r *Registry) Observe(name string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.timers[name]
	if t == nil {
		t = &timer{}
		r.timers[name] = t
	}
	sum := r.promSummaries[name]
	if sum == nil {
		sum = r.prom.GetOrCreateSummaryExt(r.promName(name)+"_seconds", summaryWindow, summaryQuantiles)
		r.promSummaries[name] = sum
	}
	sum.Update(d.Seconds())
	t.count++
	t.sum += d
	t.max = max(t.max, d)
	if len(t.samples) < timerWindow {
		t.samples = append(t.samples, d)
	} else {
		t.samples[t.next] = d
		t.next = (t.next + 1) % timerWindow
	}
}

// TimerStats summarizes a timer: quantiles over the recent samples.
type TimerStats struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Snapshot is the registry's content, as /v1/metrics shows it.
type Snapshot struct {
	Counters map[string]int64      `json:"counters"`
	Timers   map[string]TimerStats `json:"timers"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Snapshot returns the current values.
func (r *Registry) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Counters: map[string]int64{}, Timers: map[string]TimerStats{}}
	for k, v := range r.counters {
		s.Counters[k] = v
	}
	for k, t := range r.timers {
		sorted := append([]time.Duration(nil), t.samples...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		q := func(p float64) float64 {
			if len(sorted) == 0 {
				return 0
			}
			i := int(math.Ceil(p*float64(len(sorted)))) - 1
			return ms(sorted[max(i, 0)])
		}
		st := TimerStats{Count: t.count, P50: q(0.5), P95: q(0.95), P99: q(0.99), Max: ms(t.max)}
		if t.count > 0 {
			st.Mean = ms(t.sum) / float64(t.count)
		}
		s.Timers[k] = st
	}
	return s
}

var promBad = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func (r *Registry) promName(name string) string {
	return promBad.ReplaceAllString(r.namespace+"_"+name, "_")
}

// WritePrometheus writes the registry in the Prometheus text exposition
// format (version 0.0.4): counters as counters, timers as summaries in
// seconds.
func (r *Registry) WritePrometheus(w io.Writer) error {
	r.prom.WritePrometheus(w)
	return nil
}
