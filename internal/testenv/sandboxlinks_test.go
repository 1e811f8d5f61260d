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
	p, err := startProc(procSpec{shell: true, value: "echo written; touch ran", sandbox: sb, env: []string{leakMarker}})
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

// TestPlantedLinkAboveTheAgentDir: a task's processes reach every
// directory above their sandbox (MESOS_SANDBOX/../../../../../.. is the
// agent's directory). With the agent's directory, or slaves above it,
// renamed and a link to a directory outside put in its place, the next
// task's sandbox, runs/latest and stdout are still made in the agent's
// directory, wherever it was moved: the agent opened it when it started.
// The task runs there and nothing is created outside.
func TestPlantedLinkAboveTheAgentDir(t *testing.T) {
	for _, planted := range []string{"agent", "slaves"} {
		t.Run(planted, func(t *testing.T) {
			cl := startCluster(t, Config{})
			s := subscribe(t, cl, frameworkInfo("planted-agent"), protoCodec)
			outside := t.TempDir()
			agent := cl.Agents()[0].ID
			dir := filepath.Join(cl.WorkDir(), "slaves")
			if planted == "agent" {
				dir = filepath.Join(dir, agent)
			}
			if err := os.Rename(dir, dir+".moved"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, dir); err != nil {
				t.Fatal(err)
			}
			o := s.offers()[0]
			s.launch(o, commandTask("after", o, "echo ran in $(pwd -P)"))
			s.updateAck("after", mesos.TASK_STARTING)
			s.updateAck("after", mesos.TASK_RUNNING)
			if st := s.updateAck("after", mesos.TASK_FINISHED); st.GetState() != mesos.TASK_FINISHED {
				t.Fatalf("after: %s %q", st.GetState(), st.GetMessage())
			}
			var created []string
			_ = filepath.WalkDir(outside, func(p string, _ os.DirEntry, _ error) error {
				if p != outside {
					created = append(created, p)
				}
				return nil
			})
			if len(created) > 0 {
				t.Errorf("created outside the work dir: %q", created)
			}
			moved := filepath.Join(cl.WorkDir(), "slaves.moved", agent)
			if planted == "agent" {
				moved = filepath.Join(cl.WorkDir(), "slaves", agent+".moved")
			}
			runs, _ := filepath.Glob(filepath.Join(moved, "frameworks", "*", "executors", "after", "runs", "latest"))
			if len(runs) != 1 {
				t.Fatalf("runs/latest of the task in the moved agent dir: %q", runs)
			}
			b, err := os.ReadFile(filepath.Join(runs[0], "stdout"))
			real, _ := filepath.EvalSymlinks(runs[0])
			if err != nil || !strings.Contains(string(b), "ran in "+real) {
				t.Errorf("stdout in the moved agent dir: %q, %v; want the task run in %s", b, err, real)
			}
		})
	}
}

// TestVolumeDirsThroughPlantedLinks: a task can reach its volume's parent
// directories (its sandbox link names the volume's path): the role's
// directory, the host's agents/<index> and agents itself. With one of
// them replaced by a link to a directory outside, DESTROY does not move
// and delete the outside directory of the volume's name, and CREATE does
// not make one there.
func TestVolumeDirsThroughPlantedLinks(t *testing.T) {
	for _, planted := range []string{"agents/0/volumes/roles/role", "agents/0", "agents"} {
		t.Run(planted, func(t *testing.T) {
			cl := startCluster(t, Config{AllocationInterval: 50 * time.Millisecond})
			s := subscribe(t, cl, roleFramework("planted-volumes", "role", "principal", mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT), protoCodec)
			rdisk := dynamic(disk(64), "role", "principal", labels("resource_id", "disk"), true)
			vol := asVolume(rdisk, "v1", "principal", "data")
			s.accept(s.offers()[0], calls.OpReserve(rdisk), withID(calls.OpCreate(vol), "create"))
			if st := s.opStatus("create"); st.State != mesos.OPERATION_FINISHED {
				t.Fatalf("create: %s %q", st.State, st.GetMessage())
			}
			// outside mirrors the layout below the replaced directory.
			outside := t.TempDir()
			below, _ := filepath.Rel(filepath.FromSlash(planted), filepath.FromSlash("agents/0/volumes/roles/role"))
			keep := filepath.Join(outside, below, "v1", "keep")
			if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(keep, []byte("keep\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(cl.WorkDir(), filepath.FromSlash(planted))
			if err := os.Rename(dir, dir+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, dir); err != nil {
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
			if _, err := os.Lstat(filepath.Join(outside, below, "v2")); !os.IsNotExist(err) {
				t.Errorf("a volume directory was created outside: %v", err)
			}
		})
	}
}
