package metrics

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/taskkit/taskkit/internal/promcheck"
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
	families, err := promcheck.Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("not a valid exposition: %v\n%s", err, b.String())
	}
	if typ := families["scheduler_lite_offers_received_total"].GetType(); typ != dto.MetricType_COUNTER {
		t.Errorf("offers.received is a %v", typ)
	}
	if sum := families["scheduler_lite_offers_process_seconds"].GetMetric()[0].GetSummary(); sum.GetSampleCount() != 100 || len(sum.GetQuantile()) != 3 {
		t.Errorf("offers.process summary %v", sum)
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
