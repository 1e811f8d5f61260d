package testenv

import (
	"math"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// TestLaunchGroupsShareANewExecutor: one ACCEPT with a LAUNCH_GROUP of one
// task per task, all naming the same new DEFAULT executor (what the DC/OS
// SDK's LaunchOfferRecommendation and scheduler-lite send for a pod)
// launches the executor with the first group and puts the others into it,
// its resources counted once (Master::_accept: isLaunchExecutor, then
// validateExecutor leaves out the resources of an executor the agent
// has). A KILL of one task ends that task only: the group rule stays
// within its group.
func TestLaunchGroupsShareANewExecutor(t *testing.T) {
	cl := startCluster(t, Config{ExecutorPath: buildExecutor(t)})
	s := subscribe(t, cl, frameworkInfo("groups-of-one"), protoCodec)
	o := s.offers()[0]
	ei := mesos.ExecutorInfo{
		Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: "pod-0"},
		FrameworkID: &mesos.FrameworkID{Value: s.FrameworkID},
		Resources:   []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource, resources.NewDisk(10).Resource},
	}
	server, side := commandTask("server", o, "exec sleep 300"), commandTask("side", o, "exec sleep 300")
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(ei, server), calls.OpLaunchGroup(ei, side)}.WithOffers(o.ID)))
	for _, id := range []string{"server", "side"} {
		s.updateAck(id, mesos.TASK_STARTING)
		if st := s.updateAck(id, mesos.TASK_RUNNING); st.GetExecutorID().Value != "pod-0" {
			t.Errorf("%s runs in executor %v, want pod-0", id, st.GetExecutorID())
		}
	}
	// Two tasks of 0.1 cpus and 32 MB, and the executor's share once.
	if cpus, mem := frameworkUsed(t, cl); math.Abs(cpus-0.3) > 1e-9 || mem != 96 {
		t.Errorf("used %v cpus, %v MB; want 0.3 cpus, 96 MB (the executor's share once)", cpus, mem)
	}

	s.MustCall(calls.Kill("side", ""))
	s.updateAck("side", mesos.TASK_KILLED)
	time.Sleep(time.Second) // the group rule would have killed server by now
	if st := stateOfTask(t, cl, "server"); st != "TASK_RUNNING" {
		t.Errorf("server is %s after side was killed, want TASK_RUNNING", st)
	}
}

// frameworkUsed returns the cpus and mem (MB) the only framework uses, from
// /state.
func frameworkUsed(t *testing.T, cl *Cluster) (cpus, mem float64) {
	t.Helper()
	fws, _ := stateOf(t, cl, "/state")["frameworks"].([]any)
	if len(fws) != 1 {
		t.Fatalf("%d frameworks in /state", len(fws))
	}
	used, _ := fws[0].(map[string]any)["used_resources"].(map[string]any)
	cpus, _ = used["cpus"].(float64)
	mem, _ = used["mem"].(float64)
	return cpus, mem
}

// stateOfTask returns task id's state in /state ("none" when it has none).
func stateOfTask(t *testing.T, cl *Cluster, id string) string {
	t.Helper()
	fws, _ := stateOf(t, cl, "/state")["frameworks"].([]any)
	for _, f := range fws {
		tasks, _ := f.(map[string]any)["tasks"].([]any)
		for _, task := range tasks {
			if m, _ := task.(map[string]any); m["id"] == id {
				s, _ := m["state"].(string)
				return s
			}
		}
	}
	return "none"
}
