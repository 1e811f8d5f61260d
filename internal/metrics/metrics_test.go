package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	r := New("scheduler_lite")
	r.Inc("offers.received")
	r.Add("offers.received", 2)
	for i := 1; i <= 100; i++ {
		r.Observe("offers.process", time.Duration(i)*time.Millisecond)
	}
	s := r.Snapshot()
	if s.Counters["offers.received"] != 3 || r.Counter("offers.received") != 3 {
		t.Errorf("counter %v", s.Counters)
	}
	ts := s.Timers["offers.process"]
	if ts.Count != 100 || ts.P50 != 50 || ts.P95 != 95 || ts.Max != 100 || ts.Mean != 50.5 {
		t.Errorf("timer %+v", ts)
	}
	var b strings.Builder
	if err := r.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# TYPE scheduler_lite_offers_received_total counter\nscheduler_lite_offers_received_total 3\n",
		"# TYPE scheduler_lite_offers_process_seconds summary\n",
		`scheduler_lite_offers_process_seconds{quantile="0.5"} 0.05`, // 0.05 or 0.051: the library interpolates
		"scheduler_lite_offers_process_seconds_count 100\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("exposition lacks %q:\n%s", want, b.String())
		}
	}
}
