package service

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// TestPlanReadsDoNotWaitForTheLoop: the plans' readers (GET /v1/plans and
// /v1/plans/{plan}) answer while the loop holds the state's lock, as it
// does in an offer round or a burst of status updates (or while the OS
// has descheduled it holding the lock).
func TestPlanReadsDoNotWaitForTheLoop(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), nil, nil)
	h.ready()
	held, release := make(chan struct{}), make(chan struct{})
	loopDone := make(chan error, 1)
	go func() { // owned by the test: joined below
		loopDone <- h.s.do(context.Background(), func() error {
			h.s.mu.Lock()
			defer h.s.mu.Unlock()
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	read := make(chan string, 1)
	go func() { // owned by the test: ends once the reads return
		v, err := h.s.PlanView(plan.Deploy)
		read <- fmt.Sprintf("%s %v %s %v", v.Status, err, h.s.PlanStatus(plan.Deploy), h.s.PlanNames())
	}()
	var got string
	select {
	case got = <-read:
	case <-time.After(sdktest.Wait):
		t.Error("the plans' readers waited for the loop's lock")
	}
	close(release)
	if err := <-loopDone; err != nil {
		t.Fatal(err)
	}
	if got == "" {
		got = <-read
	}
	if want := "PENDING <nil> PENDING [deploy recovery]"; got != want {
		t.Errorf("read %q, want %q", got, want)
	}
}

// TestPlanCommandShowsInTheNextRead: a command's change is in the plan's
// view once the command returns (no wait for a later loop action), and
// each change gives the view a new version, the same view the same one.
func TestPlanCommandShowsInTheNextRead(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(oneTask, 1, "serial"), nil, nil)
	h.ready()
	_, v0, _ := h.s.PlanViewVersion(plan.Deploy)
	for i, tc := range []struct {
		cmd  string
		want plan.Status
		// changed: the command changes the plan (a new version).
		changed bool
	}{
		{CmdInterrupt, plan.Waiting, true},
		{CmdInterrupt, plan.Waiting, false},
		{CmdContinue, plan.Pending, true},
		{CmdForceComplete, plan.Complete, true},
	} {
		if _, err := h.s.PlanCommand(context.Background(), plan.Deploy, tc.cmd, "", "", nil); err != nil {
			t.Fatalf("%d %s: %v", i, tc.cmd, err)
		}
		view, v1, err := h.s.PlanViewVersion(plan.Deploy)
		if err != nil || view.Status != tc.want {
			t.Errorf("%d %s: the next read says %s (%v), want %s", i, tc.cmd, view.Status, err, tc.want)
		}
		if (v1 != v0) != tc.changed {
			t.Errorf("%d %s: version %d after %d, want a new one: %v", i, tc.cmd, v1, v0, tc.changed)
		}
		v0 = v1
	}
}

// BenchmarkPublishPlans is the loop's cost of publishing the plans' views
// after something it did, for the 200-pod deploy of bench/scheduler.sh:
// when no plan changed (a walk of the steps), and when one step did (its
// phase's view made anew).
func BenchmarkPublishPlans(b *testing.B) {
	yaml := `name: bench
pods:
  p:
    count: 200
    tasks:
      t0: {goal: RUNNING, cmd: "exec sleep 600", cpus: 0.01, memory: 1}
plans:
  deploy:
    phases:
      p: {pod: p, strategy: parallel}
`
	for _, tc := range []struct {
		name   string
		change func(st *plan.Step, i int)
	}{
		{"unchanged", func(*plan.Step, int) {}},
		{"one step changed", func(st *plan.Step, i int) { st.Message = fmt.Sprint("waiting ", i) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := newHarness(b, yaml, nil, nil)
			st := h.s.deploy.Phases[0].Steps[100]
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tc.change(st, i)
				i++
				h.s.publishPlans()
			}
		})
	}
}
