package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// TestPersistentVolumeOnDisk follows PersistentVolumeTest.AccessPersistentVolume,
// ResourcesCheckpointing and SlaveRecovery: a volume created in the same
// ACCEPT as its reservation and the task group that uses it is a directory
// under the agent's work dir, seen by the task (through taskkit's DEFAULT
// executor) and by a command task at its container path; its data
// survives the task's exit, the executor's exit and an agent restart
// (the agent comes back with a new ID and the volume); DESTROY removes
// the data, and a volume created again with the same ID starts empty.
func TestPersistentVolumeOnDisk(t *testing.T) {
	cl := startCluster(t, Config{ExecutorPath: buildExecutor(t), AllocationInterval: 50 * time.Millisecond})
	fi := roleFramework("stateful", "role", "principal", mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
	fi.Checkpoint = new(bool)
	*fi.Checkpoint = true
	s := subscribe(t, cl, fi, protoCodec)
	o := s.offers()[0]

	rcpu := dynamic(cpus(1), "role", "principal", labels("resource_id", "cpu"), true)
	rmem := dynamic(mem(256), "role", "principal", labels("resource_id", "mem"), true)
	rdisk := dynamic(disk(1024), "role", "principal", labels("resource_id", "disk"), true)
	vol := asVolume(rdisk, "data-vol", "principal", "data")
	onVolume := func(id string, o mesos.Offer, shell string) mesos.TaskInfo {
		ti := commandTask(id, o, shell)
		ti.Resources = []mesos.Resource{rcpu, rmem, vol}
		return ti
	}
	execInfo := func(id string) mesos.ExecutorInfo {
		return mesos.ExecutorInfo{
			Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: id},
			FrameworkID: &mesos.FrameworkID{Value: s.FrameworkID},
			Resources:   []mesos.Resource{cpus(0.1), mem(32), disk(10)},
		}
	}
	host := filepath.Join(cl.WorkDir(), "agents", "0", "volumes", "roles", "role", "data-vol")

	s.accept(o,
		calls.OpReserve(rcpu, rmem, rdisk),
		calls.OpCreate(vol),
		calls.OpLaunchGroup(execInfo("e1"), onVolume("w1", o, "echo one >> data/log")),
	)
	s.updateAck("w1", mesos.TASK_STARTING)
	s.updateAck("w1", mesos.TASK_RUNNING)
	s.updateAck("w1", mesos.TASK_FINISHED)
	if b, err := os.ReadFile(filepath.Join(host, "log")); err != nil || string(b) != "one\n" {
		t.Fatalf("volume on the host: %q, %v", b, err)
	}

	// After the task's and its executor's exit (the DEFAULT executor ends
	// with its last task), a new executor's task sees the data.
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(execInfo("e2"), onVolume("w2", o, `echo two >> data/log; sleep 600`))}.WithOffers(s.offersWith("data-vol", "")...)))
	s.updateAck("w2", mesos.TASK_STARTING)
	s.updateAck("w2", mesos.TASK_RUNNING)
	eventually(t, "w2 writes", func() bool {
		b, _ := os.ReadFile(filepath.Join(host, "log"))
		return string(b) == "one\ntwo\n"
	})

	// The executor is killed under its running task.
	if err := cl.KillExecutor(s.FrameworkID, "e2"); err != nil {
		t.Fatal(err)
	}
	s.updateAck("w2", mesos.TASK_FAILED)

	// A command task (testenv's command executor) sees it too.
	o = s.offerWhere("volume data-vol", isVolume("data-vol"))
	s.launch(o, onVolume("c1", o, `echo three >> data/log && test "$(cat data/log)" = "$(printf 'one\ntwo\nthree')"`))
	s.updateAck("c1", mesos.TASK_STARTING)
	s.updateAck("c1", mesos.TASK_RUNNING)
	if st := s.Update("c1", mesos.TASK_FINISHED); st.GetState() != mesos.TASK_FINISHED {
		t.Fatalf("c1: %v", st)
	} else {
		s.ack(st)
	}

	// The agent restarts: a new agent ID, the same reservations and volume.
	if err := cl.KillAgent("0"); err != nil {
		t.Fatal(err)
	}
	info, err := cl.RestartAgent("0")
	if err != nil {
		t.Fatal(err)
	}
	o.AgentID.Value = info.ID
	s.MustCall(calls.Accept(calls.OfferOperations{calls.OpLaunchGroup(execInfo("e3"), onVolume("w3", o, `test "$(cat data/log)" = "$(printf 'one\ntwo\nthree')"`))}.WithOffers(s.offersWith("data-vol", info.ID)...)))
	s.updateAck("w3", mesos.TASK_STARTING)
	s.updateAck("w3", mesos.TASK_RUNNING)
	s.updateAck("w3", mesos.TASK_FINISHED)
	sandbox := filepath.Join(cl.WorkDir(), "slaves", info.ID, "frameworks", s.FrameworkID, "executors", "e3", "runs", "latest")
	if target, err := os.Readlink(filepath.Join(sandbox, "tasks", "w3", "data")); err != nil || !strings.HasSuffix(target, filepath.Join("e3", "runs", filepath.Base(mustEvalLink(t, sandbox)), "data")) {
		t.Errorf("task sandbox link: %q, %v", target, err)
	}

	// DESTROY removes the data; the same ID again is a new, empty volume.
	o = s.offerWhere("volume data-vol", isVolume("data-vol"))
	s.accept(o, withID(calls.OpDestroy(vol), "destroy"))
	if st := s.opStatus("destroy"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("destroy: %s %q", st.State, st.GetMessage())
	}
	if _, err := os.Stat(host); !os.IsNotExist(err) {
		t.Errorf("volume directory after DESTROY: %v", err)
	}
	o = s.offerWhere("reserved disk", func(r *mesos.Resource) bool {
		return r.Name == "disk" && r.IsReserved("role") && !r.IsPersistentVolume()
	})
	s.accept(o, withID(calls.OpCreate(vol), "create-again"))
	if st := s.opStatus("create-again"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("create again: %s %q", st.State, st.GetMessage())
	}
	if entries, err := os.ReadDir(host); err != nil || len(entries) != 0 {
		t.Errorf("re-created volume: %v entries, %v", entries, err)
	}
}

// offersWith waits until the offers received from agent (any agent if
// "") hold volume id and unreserved cpus for an executor, and returns
// them, to be accepted together: the reserved and unreserved resources
// of an agent come back in separate offers when they are freed at
// different times (a task, then its executor).
func (s *sched) offersWith(id, agent string) []mesos.OfferID {
	s.T.Helper()
	var held []mesos.Offer
	for {
		for _, o := range s.offers() {
			if agent == "" || o.AgentID.Value == agent {
				held = append(held, o)
			}
		}
		vol, cpus := false, 0.0
		var ids []mesos.OfferID
		for _, o := range held {
			vol = vol || hasVolume(o, id)
			cpus += unreservedCPUs(o)
			ids = append(ids, o.ID)
		}
		if vol && cpus >= 0.1 {
			return ids
		}
	}
}

func hasVolume(o mesos.Offer, id string) bool {
	for i := range o.Resources {
		if isVolume(id)(&o.Resources[i]) {
			return true
		}
	}
	return false
}

func unreservedCPUs(o mesos.Offer) float64 {
	n := 0.0
	for _, r := range o.Resources {
		if r.Name == "cpus" && r.IsUnreserved() {
			n += r.GetScalar().GetValue()
		}
	}
	return n
}

func mustEvalLink(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func isMount(r *mesos.Resource) bool { return r.IsDisk(mesos.Resource_DiskInfo_Source_MOUNT) }

// TestMountDisks follows Mesos' multiple-disk support (docs/multiple-disk.md,
// PersistentVolumeTest with MOUNT disks): an agent's MOUNT disks are
// offered whole, each with its absolute mount.root; a task or a
// reservation cannot take part of one; a volume on a reserved MOUNT disk
// is the disk's root, and DESTROY empties the root but keeps it.
func TestMountDisks(t *testing.T) {
	cl := startCluster(t, Config{DiskMounts: []float64{2048, 1024}, AllocationInterval: 50 * time.Millisecond})
	s := subscribe(t, cl, roleFramework("mounts", "role", "principal", mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT), jsonCodec)
	o := s.offers()[0]
	var mounts []mesos.Resource
	for i := range o.Resources {
		if isMount(&o.Resources[i]) {
			mounts = append(mounts, o.Resources[i])
		}
	}
	if len(mounts) != 2 {
		t.Fatalf("MOUNT disks offered: %v", mounts)
	}
	var big mesos.Resource
	for i, m := range mounts {
		root := m.Disk.Source.Mount.GetRoot()
		if st, err := os.Stat(root); err != nil || !st.IsDir() || !filepath.IsAbs(root) {
			t.Errorf("MOUNT disk %d: root %q: %v", i, root, err)
		}
		if m.Scalar.Value == 2048 {
			big = m
		}
	}
	if big.Name == "" {
		t.Fatalf("no 2048 MB MOUNT disk in %v", mounts)
	}
	if d, _ := firstSlave(t, cl, "/state")["resources"].(map[string]any)["disk"].(float64); d != 16384+2048+1024 {
		t.Errorf("/state agent disk %v, want the root disk and both MOUNT disks", d)
	}

	part := big
	part.Scalar = &mesos.Value_Scalar{Value: 1000}
	ti := commandTask("part", o, "true")
	ti.Resources = append(ti.Resources, part)
	s.launch(o, ti)
	if st := s.Update("part", mesos.TASK_ERROR); !strings.Contains(st.GetMessage(), "more than available") {
		t.Errorf("part of a MOUNT disk: %q", st.GetMessage())
	}
	o = s.offers()[0]
	s.accept(o, withID(calls.OpReserve(dynamic(part, "role", "principal", nil, true)), "reserve-part"))
	if st := s.opStatus("reserve-part"); st.State != mesos.OPERATION_ERROR || !strings.Contains(st.GetMessage(), "does not contain") {
		t.Errorf("reserving part of a MOUNT disk: %s %q", st.State, st.GetMessage())
	}

	o = s.offers()[0]
	rbig := dynamic(big, "role", "principal", labels("resource_id", "m"), true)
	vol := asVolume(rbig, "on-mount", "principal", "mnt")
	ti = commandTask("writer", o, "echo kept > mnt/file")
	ti.Resources = append(ti.Resources, vol)
	s.accept(o, calls.OpReserve(rbig), calls.OpCreate(vol), calls.OpLaunch(ti))
	s.updateAck("writer", mesos.TASK_STARTING)
	s.updateAck("writer", mesos.TASK_RUNNING)
	s.updateAck("writer", mesos.TASK_FINISHED)
	root := big.Disk.Source.Mount.GetRoot()
	if b, err := os.ReadFile(filepath.Join(root, "file")); err != nil || string(b) != "kept\n" {
		t.Fatalf("the volume is not the disk's root: %q, %v", b, err)
	}

	o = s.offerWhere("volume on-mount", isVolume("on-mount"))
	s.accept(o, withID(calls.OpDestroy(vol), "destroy"))
	if st := s.opStatus("destroy"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("destroy: %s %q", st.State, st.GetMessage())
	}
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
		t.Errorf("MOUNT root after DESTROY: %v, %v (want it kept and empty)", entries, err)
	}
}
