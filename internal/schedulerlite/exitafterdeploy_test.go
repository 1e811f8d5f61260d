package schedulerlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/testenv"
)

// TestWaitDeployAfterRestartReconciles: a scheduler restarted on the state
// of a COMPLETE deploy restores the plan COMPLETE before it has subscribed;
// --exit-after-deploy (WaitDeploy) must still wait until the stored tasks
// are reconciled, so that what it reports (health, the plan) is the
// cluster's and not the store's. It returned at once, with health 318
// INITIALIZING (helper-54's report).
func TestWaitDeployAfterRestartReconciles(t *testing.T) {
	cl := cluster(t, testenv.Config{Agents: 1})
	spec := specFile(t, `name: exit-after
pods:
  hello:
    count: 1
    tasks:
      server:
        goal: RUNNING
        cmd: "exec sleep 600"
        cpus: 0.05
        memory: 32
`)
	opts := Options{SpecPath: spec, Master: cl.MasterURL(), State: "file:" + filepath.Join(t.TempDir(), "state.db"), APIListen: "127.0.0.1:0", ArtifactsDir: artifacts}
	in, stop := startInstance(t, opts)
	if err := WaitDeploy(context.Background(), in, 90*time.Second); err != nil {
		stop()
		t.Fatal(err)
	}
	stop()

	in, stop = startInstance(t, opts)
	defer stop()
	if err := WaitDeploy(context.Background(), in, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, _ := in.Sched.Reconciled(); !ok {
		code, word := in.Sched.Health()
		t.Errorf("WaitDeploy returned before the restored tasks were reconciled (health %d %s)", code, word)
	}
	if got := in.Sched.PlanStatus(plan.Deploy); got != plan.Complete {
		t.Errorf("deploy %s after the restart, want COMPLETE", got)
	}
}

// startInstance starts scheduler-lite with opts; stop cancels it and waits
// for it to end, reporting an error it ended with.
func startInstance(t *testing.T, opts Options) (in *Instance, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in, err := Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return in, func() {
		cancel()
		if err := in.Wait(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
}
