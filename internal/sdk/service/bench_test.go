package service

import (
	"fmt"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// BenchmarkOfferRound is the launch round of bench/scheduler.sh on the
// event loop: 200 pending pods fitted into 5 offers (evaluate, build, plan
// the launches), without the store or the master.
func BenchmarkOfferRound(b *testing.B) {
	for _, tc := range []struct {
		name string
		tls  string
	}{{"plain", ""}, {"tls", ", transport-encryption: [{name: t, type: TLS}]"}} {
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
			for b.Loop() {
				b.StopTimer()
				h := newHarness(b, yaml, nil, nil)
				h.s.keys.Want(0)
				b.StartTimer()
				h.s.offers(append([]mesos.Offer(nil), offers...))
				b.StopTimer()
				if n := h.s.m.Counter("operations.launch_group"); n != 200 {
					b.Fatalf("%d launched", n)
				}
				b.StartTimer()
			}
		})
	}
}
