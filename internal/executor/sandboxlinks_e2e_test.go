package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/testenv"
)

// TestPlantedLinksInTheSandbox: a task owns the executor sandbox's
// contents, so one task of a pod can put links where the executor will
// create a later task's sandbox or its stdout. The later tasks fail to
// launch (TASK_FAILED, naming the link), and the file and directory the
// links point to, outside the sandbox, are left as they were.
func TestPlantedLinksInTheSandbox(t *testing.T) {
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("planted-links", false))
	outside := t.TempDir()
	important := filepath.Join(outside, "important")
	if err := os.WriteFile(important, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ei := s.defaultExecutor("links")
	// planter runs in tasks/planter: ../victim/stdout links to the outside
	// file, ../escaped to the outside directory.
	s.launchGroup(s.offer(), ei, shellTask("planter",
		`mkdir ../victim && ln -s "$OUT/important" ../victim/stdout && ln -s "$OUT" ../escaped && touch planted && exec sleep 300`,
		"OUT="+outside))
	s.Update("planter", mesos.TASK_RUNNING)
	sb := sandbox(t, cl, s.FrameworkID, "links")
	eventually(t, "links planted", func() bool {
		_, err := os.Stat(filepath.Join(sb, "tasks", "planter", "planted"))
		return err == nil
	})
	for id, want := range map[string]string{
		"victim":  filepath.Join(sb, "tasks", "victim", "stdout") + " is a symbolic link",
		"escaped": filepath.Join(sb, "tasks", "escaped") + " is a symbolic link",
	} {
		s.launchGroup(s.offer(), ei, shellTask(id, "echo written"))
		st := s.WaitFor(func(e *scheduler.Event) bool {
			return e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == id && mesosx.IsTerminal(e.Update.Status.GetState())
		}, id+" terminal").Update.Status
		if st.GetState() != mesos.TASK_FAILED || !strings.HasPrefix(st.GetMessage(), "Failed to launch task: ") || !strings.Contains(st.GetMessage(), want) ||
			st.GetReason() != mesos.REASON_CONTAINER_LAUNCH_FAILED {
			t.Errorf("%s: %s %s %q, want a launch failure naming %q", id, st.GetState(), st.GetReason(), st.GetMessage(), want)
		}
	}
	if b, err := os.ReadFile(important); err != nil || string(b) != "keep\n" {
		t.Errorf("the file outside the sandbox changed: %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("the directory outside the sandbox holds %d entries, want 1", len(ents))
	}
}

// TestSandboxRenamedByATask: a task renames the executor sandbox away and
// puts a link to a directory outside in its place; the next LAUNCH_GROUP's
// task still gets its sandbox, stdout, stderr and SECRET file in the
// directory the executor was given (held open since it started), the
// renaming task's check commands still run in its own sandbox, and nothing
// is created outside.
func TestSandboxRenamedByATask(t *testing.T) {
	outside := t.TempDir()
	cl := startCluster(t, testenv.Config{})
	s := subscribe(t, cl, frameworkInfo("renamed", false))
	ei := s.defaultExecutor("rn")
	// rn-1's check writes into its working directory: after the rename
	// that is still rn-1's sandbox, although rn-1's path now leads to a
	// directory outside made for it.
	rn1 := shellTask("rn-1",
		`es=$(cd "$MESOS_SANDBOX/../.." && pwd -P) && mkdir -p "$OUT/tasks/rn-1" && mv "$es" "$es.moved" && ln -s "$OUT" "$es" && `+
			`rm -f "$es.moved/tasks/rn-1/checked" && touch "$es.moved/done" && exec sleep 300`,
		"OUT="+outside)
	line := "echo >> checked"
	rn1.Check = &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND, Command: &mesos.CheckInfo_Command{Command: mesos.CommandInfo{Value: &line}},
		DelaySeconds: secs(0), IntervalSeconds: secs(0.2), TimeoutSeconds: secs(10)}
	s.launchGroup(s.offer(), ei, rn1)
	s.Update("rn-1", mesos.TASK_RUNNING)
	var moved string // the executor sandbox, renamed
	eventually(t, "the sandbox renamed", func() bool {
		m, _ := filepath.Glob(filepath.Join(cl.WorkDir(), "slaves", "*", "frameworks", s.FrameworkID, "executors", "rn", "runs", "*.moved", "done"))
		if len(m) == 1 {
			moved = filepath.Dir(m[0])
		}
		return moved != ""
	})
	rn2 := shellTask("rn-2", "echo hello from rn-2")
	rn2.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Volumes: []mesos.Volume{{
		ContainerPath: "secret.txt", Mode: mesos.RO.Enum(),
		Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SECRET, Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte("s3cr3t-value")}}},
	}}}
	s.launchGroup(s.offer(), ei, rn2)
	s.Update("rn-2", mesos.TASK_FINISHED)
	eventually(t, "rn-1's check ran after the rename", func() bool {
		_, err := os.Stat(filepath.Join(moved, "tasks", "rn-1", "checked"))
		return err == nil
	})
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("the executor created %d entries in %s, outside its sandbox", len(ents)-1, outside)
	}
	if ents, _ := os.ReadDir(filepath.Join(outside, "tasks")); len(ents) != 1 {
		t.Errorf("the executor created %d task sandboxes in %s, outside its sandbox", len(ents)-1, outside)
	}
	if ents, _ := os.ReadDir(filepath.Join(outside, "tasks", "rn-1")); len(ents) != 0 {
		t.Errorf("rn-1's check ran outside the sandbox, in %s", filepath.Join(outside, "tasks", "rn-1"))
	}
	for _, f := range []string{"stdout", "stderr", "secret.txt"} {
		if _, err := os.Stat(filepath.Join(moved, "tasks", "rn-2", f)); err != nil {
			t.Errorf("not in the task sandbox: %v", err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(moved, "tasks", "rn-2", "stdout")); string(b) != "hello from rn-2\n" {
		t.Errorf("rn-2's stdout: %q", b)
	}
}
