package healthreport

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/VictoriaMetrics/metrics"

	"github.com/taskkit/taskkit/internal/health"
	"github.com/taskkit/taskkit/internal/probe"
)

// durationBuckets are the check-duration histogram's upper bounds in
// seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60}

// exposeMetadata turns on the # HELP and # TYPE lines, a process-wide
// setting of the metrics library, once.
var exposeMetadata sync.Once

// checkMetrics are the metrics one kind of check updates as it runs.
type checkMetrics struct {
	results  map[probe.Status]*metrics.Counter
	failures *metrics.Counter
	duration *metrics.PrometheusHistogram
}

// newMetrics registers healthd's metrics (docs/healthd.md, "Metrics") in a
// set of their own (github.com/VictoriaMetrics/metrics: Prometheus text
// exposition, no protobuf): the checks' counters and histogram, and gauges
// read from r and the checkers when scraped.
func newMetrics(r *Reporter) (*metrics.Set, map[Kind]*checkMetrics) {
	exposeMetadata.Do(func() { metrics.ExposeMetadata(true) })
	set := metrics.NewSet()
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	set.NewGauge("healthd_healthy", func() float64 { return b2f(r.Healthy()) })
	set.NewGauge("healthd_ready", func() float64 { return b2f(r.Ready()) })
	per := map[Kind]*checkMetrics{}
	for _, kc := range []struct {
		k Kind
		c *health.Checker
	}{{Health, r.opts.Health}, {Readiness, r.opts.Readiness}} {
		if kc.c == nil {
			continue
		}
		k, c := kc.k, kc.c
		m := &checkMetrics{results: map[probe.Status]*metrics.Counter{}}
		for _, s := range []probe.Status{probe.Healthy, probe.Unhealthy, probe.Error} {
			m.results[s] = set.NewCounter(fmt.Sprintf(`healthd_checks_total{check=%q,result=%q}`, k, s))
		}
		m.failures = set.NewCounter(fmt.Sprintf(`healthd_check_failures_total{check=%q}`, k))
		m.duration = set.NewPrometheusHistogramExt(fmt.Sprintf(`healthd_check_duration_seconds{check=%q}`, k), durationBuckets)
		set.NewGauge(fmt.Sprintf(`healthd_check_consecutive_failures{check=%q}`, k), func() float64 {
			return float64(c.Status().ConsecutiveFailures)
		})
		for _, s := range []health.State{health.Unknown, health.Healthy, health.Unhealthy, health.Failed} {
			set.NewGauge(fmt.Sprintf(`healthd_check_state{check=%q,state=%q}`, k, s), func() float64 {
				return b2f(c.Status().State == s)
			})
		}
		set.NewGauge(fmt.Sprintf(`healthd_check_last_success_timestamp_seconds{check=%q}`, k), func() float64 {
			if t := c.Status().LastSuccess; !t.IsZero() {
				return float64(t.UnixNano()) / 1e9
			}
			return 0
		})
		per[k] = m
	}
	return set, per
}

// observe records one finished check.
func (m *checkMetrics) observe(c health.Check) {
	m.results[c.Status].Inc()
	m.duration.Update(c.End.Sub(c.Start).Seconds())
	if c.Counted && c.Status != probe.Healthy {
		m.failures.Inc()
	}
}

// Metrics returns the Prometheus text exposition (format 0.0.4) of
// healthd's metrics.
func (r *Reporter) Metrics() []byte {
	var b bytes.Buffer
	r.metricSet.WritePrometheus(&b)
	return b.Bytes()
}
