package dnswait_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/dnswait"
	"github.com/taskkit/taskkit/internal/dnswait/dnstest"
	"github.com/taskkit/taskkit/internal/logging"
)

var benchTrials = flag.Int("dnswait.trials", 40, "concurrent trials per iteration of BenchmarkDetection")

// BenchmarkDetection measures how long after a record appears at the DNS
// server Wait returns, and how many queries per second per name the server
// saw meanwhile. Each iteration runs -dnswait.trials waits concurrently, each
// for its own name, which appears at a random moment in [from, from+1s) after
// its Wait started (random, so a fixed poll is not in phase with it). The
// same run measures the default backoff and a fixed 1 s poll (the SDK's).
//
//	go test -run '^$' -bench Detection -benchtime 1x ./internal/dnswait/
func BenchmarkDetection(b *testing.B) {
	srv, err := dnstest.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	dir := b.TempDir()
	rc, hosts := dir+"/resolv.conf", dir+"/hosts"
	for p, c := range map[string]string{rc: "nameserver 127.0.0.1\n", hosts: ""} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	base := dnswait.Config{Resolvers: []string{srv.Addr}, ResolvConfPath: rc, HostsPath: hosts, Timeout: time.Minute}

	policies := []struct {
		name    string
		backoff dnswait.Backoff
	}{
		{"backoff", dnswait.Backoff{}},
		{"backoff-max1s", dnswait.Backoff{Initial: 50 * time.Millisecond, Max: time.Second, Factor: 1.25, Jitter: 0.2}},
		{"fixed1s", dnswait.Backoff{Initial: time.Second, Max: time.Second, Factor: 1}},
	}
	var seq int
	for _, from := range []time.Duration{0, time.Second, 5 * time.Second} {
		for _, p := range policies {
			b.Run(fmt.Sprintf("%s/appear=%v-%v", p.name, from, from+time.Second), func(b *testing.B) {
				var lat, waited []time.Duration
				queries, peak := 0, 0
				for range b.N {
					var mu sync.Mutex
					var wg sync.WaitGroup
					for range *benchTrials {
						seq++
						name := fmt.Sprintf("t%d.bench.test", seq)
						wg.Add(1)
						go func() {
							defer wg.Done()
							l, w, q, pk, err := trial(srv, base, p.backoff, name, from+rand.N(time.Second))
							mu.Lock()
							defer mu.Unlock()
							if err != nil {
								b.Error(err)
								return
							}
							lat, waited = append(lat, l), append(waited, w)
							queries, peak = queries+q, max(peak, pk)
						}()
					}
					wg.Wait()
				}
				if len(lat) == 0 {
					return
				}
				slices.Sort(lat)
				var total time.Duration
				for _, w := range waited {
					total += w
				}
				b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
				b.ReportMetric(ms(lat[len(lat)*95/100]), "p95-ms")
				// The cap: the most queries for one name in any one-second window.
				b.ReportMetric(float64(peak), "qps-per-name")
				// Queries per name per second of waiting, over all trials.
				b.ReportMetric(float64(queries)/total.Seconds(), "mean-qps-per-name")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// trial waits for name, which appears after appear; it returns the detection
// latency, the whole wait, the queries the server got for name, and the most
// queries for name in any one-second window.
func trial(srv *dnstest.Server, base dnswait.Config, bo dnswait.Backoff, name string, appear time.Duration) (latency, waited time.Duration, queries, peak int, err error) {
	cfg := base
	cfg.Hosts = []string{name}
	cfg.Backoff = bo
	start := time.Now()
	appeared := make(chan time.Time, 1)
	t := time.AfterFunc(appear, func() {
		appeared <- time.Now()
		srv.Set(name, "10.0.0.1")
	})
	defer t.Stop()
	err = dnswait.Wait(context.Background(), cfg, logging.Discard())
	done := time.Now()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	at := <-appeared
	qs := srv.Queries(name)
	for i := range qs {
		n := 0
		for j := i; j < len(qs) && qs[j].At.Sub(qs[i].At) < time.Second; j++ {
			n++
		}
		peak = max(peak, n)
	}
	return done.Sub(at), done.Sub(start), len(qs), peak, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
