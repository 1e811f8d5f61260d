package service

import (
	"context"
	"fmt"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// BenchmarkOfferRound is the launch round of bench/scheduler.sh on the
// event loop: 200 pending pods fitted into 5 offers (evaluate, build, plan
// the launches), without the store or the master. With TLS the key pool
// holds 200 keys first, as the running scheduler's does (keys ahead of
// need), so the round signs certificates but generates no key. Besides the
// wall time it reports cpu-ms/op, the process's CPU time (user + system)
// over the round: a figure a loaded machine inflates far less than the
// wall time. The cold variants start each round as a fresh scheduler
// process does (bench/scheduler.sh's only launch round): the heap collected
// and given back to the OS, so that the round grows a small heap on pages
// it must fault in, with GC cycles and assists while it runs. The decline
// variant times the round after the launch round: the 200 pods launched,
// nothing to launch, the offers declined (the round of every few seconds
// while a service runs).
func BenchmarkOfferRound(b *testing.B) {
	for _, tc := range []struct {
		name          string
		tls           string
		cold, decline bool
	}{
		{"plain", "", false, false},
		{"plain-cold", "", true, false},
		{"decline", "", false, true},
		{"tls", ", transport-encryption: [{name: t, type: TLS}]", false, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			yaml := fmt.Sprintf(`name: bench
pods:
  p:
    count: 200
    tasks:
      t0: {goal: RUNNING, cmd: "exec sleep 600", cpus: 0.01, memory: 1%s}
plans:
  deploy:
    phases:
      p: {pod: p, strategy: parallel}
`, tc.tls)
			var offers []mesos.Offer
			for i := range 5 {
				offers = append(offers, sdktest.Offer(fmt.Sprint("o", i), fmt.Sprint("a", i), fmt.Sprint("h", i),
					sdktest.CPUs(64), sdktest.Mem(131072), sdktest.Disk(16384), sdktest.Ports(1024, 65535)))
			}
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				h := newHarness(b, yaml, nil, nil)
				if tc.tls != "" {
					fillKeys(b, h.s, 200)
				}
				if tc.cold {
					debug.FreeOSMemory()
				}
				var declined int64 // before the timed round
				if tc.decline {
					h.s.offers(append([]mesos.Offer(nil), offers...))
					declined = h.s.m.Counter("offers.declined")
				}
				c0 := cpuTime()
				b.StartTimer()
				h.s.offers(append([]mesos.Offer(nil), offers...))
				b.StopTimer()
				cpu += cpuTime() - c0
				if n := h.s.m.Counter("operations.launch_group"); n != 200 {
					b.Fatalf("%d launched", n)
				}
				if n := h.s.m.Counter("offers.declined") - declined; tc.decline && n != int64(len(offers)) {
					b.Fatalf("%d offers declined after the launch round, want %d", n, len(offers))
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// fillKeys runs s's key pool until n keys are ready, then lets the round
// wait for ready keys as a running scheduler does.
func fillKeys(b *testing.B, s *Scheduler, n int) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // owned by fillKeys: joined below
		defer close(done)
		s.keys.Run(ctx)
	}()
	s.keys.Want(n)
	deadline := time.Now().Add(time.Minute)
	for s.keys.Ready() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d keys ready after a minute", s.keys.Ready(), n)
		}
		time.Sleep(time.Millisecond)
	}
	s.keys.Want(0)
	cancel()
	<-done
	s.keysRunning.Store(true)
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
