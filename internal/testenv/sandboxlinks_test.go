package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// TestPlantedLinkAroundTheSandbox: an executor's processes can change the
// directories around their sandbox. The first run of executor "planter"
// replaces its runs directory with a link to a directory outside the
// work directory; its next run fails to launch (TASK_FAILED, naming
// runs) and creates nothing there.
func TestPlantedLinkAroundTheSandbox(t *testing.T) {
	cl := startCluster(t, Config{})
	s := subscribe(t, cl, frameworkInfo("planted"), protoCodec)
	outside := t.TempDir()
	ei := mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_CUSTOM,
		ExecutorID: mesos.ExecutorID{Value: "planter"},
		Command: &mesos.CommandInfo{
			Value: strPtr(`cd ../.. && mv runs runs.old && ln -s "$OUT" runs`),
			Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{
				envVar(leakMarker), envVar("OUT=" + outside),
			}},
		},
		Resources: []mesos.Resource{resources.NewCPUs(0.1).Resource, resources.NewMemory(32).Resource},
	}
	o := s.offers()[0]
	s.launch(o, execTask("first", o, &ei, ""))
	s.updateAck("first", mesos.TASK_FAILED) // the executor exited at once
	o = s.offers()[0]
	s.launch(o, execTask("second", o, &ei, ""))
	st := s.updateAck("second", mesos.TASK_FAILED)
	if st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED || !strings.HasPrefix(st.GetMessage(), "Failed to launch container: ") ||
		!strings.Contains(st.GetMessage(), filepath.Join("executors", "planter", "runs")+" is a symbolic link") {
		t.Errorf("second run: %s %q, want a launch failure naming runs", st.GetReason(), st.GetMessage())
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("%d entries created outside the work directory", len(ents))
	}
}

// TestStartProcRefusesPlantedLogs: a sandbox's stdout that is a link (a
// fetched archive can hold one, pointing into a volume) is not appended
// through; the process does not start and the file it points to is left
// as it was.
func TestStartProcRefusesPlantedLogs(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	important := filepath.Join(outside, "important")
	if err := os.WriteFile(important, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(important, filepath.Join(dir, "stdout")); err != nil {
		t.Fatal(err)
	}
	sb, err := sandboxfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	p, err := startProc(procSpec{shell: true, value: "echo written; touch ran", dir: dir, sandbox: sb, env: []string{leakMarker}})
	if err == nil {
		p.wait()
	}
	if !errors.Is(err, sandboxfs.ErrSymlink) || !strings.Contains(err.Error(), filepath.Join(dir, "stdout")) {
		t.Errorf("startProc: %v, want an error naming %s/stdout", err, dir)
	}
	if b, err := os.ReadFile(important); err != nil || string(b) != "keep\n" {
		t.Errorf("the file outside the sandbox changed: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the process ran")
	}
}

// TestVolumeDirsThroughPlantedLinks: a task can reach its volume's parent
// directories (its sandbox link names the volume's path). With the role's
// directory replaced by a link to a directory outside, DESTROY does not
// move and delete the outside directory of the volume's name, and CREATE
// does not make one there.
func TestVolumeDirsThroughPlantedLinks(t *testing.T) {
	cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond})
	s := subscribe(t, cl, roleFramework("planted-volumes", "role", "principal", mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT), protoCodec)
	rdisk := dynamic(disk(64), "role", "principal", labels("resource_id", "disk"), true)
	vol := asVolume(rdisk, "v1", "principal", "data")
	s.accept(s.offers()[0], calls.OpReserve(rdisk), withID(calls.OpCreate(vol), "create"))
	if st := s.opStatus("create"); st.State != mesos.OPERATION_FINISHED {
		t.Fatalf("create: %s %q", st.State, st.GetMessage())
	}
	outside := t.TempDir()
	keep := filepath.Join(outside, "v1", "keep")
	if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keep, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	roleDir := filepath.Join(cl.WorkDir(), "agents", "0", "volumes", "roles", "role")
	if err := os.Rename(roleDir, roleDir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, roleDir); err != nil {
		t.Fatal(err)
	}

	s.accept(s.offerWhere("volume v1", isVolume("v1")), withID(calls.OpDestroy(vol), "destroy"))
	s.opStatus("destroy")
	o := s.offerWhere("reserved disk", func(r *mesos.Resource) bool {
		return r.Name == "disk" && r.IsReserved("role") && !r.IsPersistentVolume()
	})
	s.accept(o, withID(calls.OpCreate(asVolume(rdisk, "v2", "principal", "data")), "create-v2"))
	s.opStatus("create-v2")
	if b, err := os.ReadFile(keep); err != nil || string(b) != "keep\n" {
		t.Errorf("the directory outside lost its data: %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "v2")); !os.IsNotExist(err) {
		t.Errorf("a volume directory was created outside: %v", err)
	}
}
