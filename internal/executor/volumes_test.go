package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// TestLinkVolumes checks the hand-off of persistent volumes: the agent
// makes each volume visible at <executor sandbox>/<container_path>, and
// the executor links each task's sandbox to it, as Mesos' default
// executor does with a SANDBOX_PATH volume of type PARENT.
func TestLinkVolumes(t *testing.T) {
	vol := func(path string) mesos.Resource {
		return mesos.Resource{Name: "disk", Disk: &mesos.Resource_DiskInfo{
			Persistence: &mesos.Resource_DiskInfo_Persistence{ID: "v"},
			Volume:      &mesos.Volume{ContainerPath: path, Mode: mesos.RW.Enum()},
		}}
	}
	for _, tc := range []struct {
		name string
		res  []mesos.Resource
		want string // substring of the error; "" means the links exist
	}{
		{"no volume", []mesos.Resource{{Name: "cpus"}}, ""},
		{"relative", []mesos.Resource{{Name: "cpus"}, vol("data"), vol("logs")}, ""},
		{"absolute", []mesos.Resource{vol("/var/lib/data")}, "needs a mount namespace"},
		// The task made "planted" a link to a directory outside: the
		// volume's link is not made there, nor replaces it.
		{"under a planted link", []mesos.Resource{vol("planted/current")}, "tasks/t/planted is a symbolic link"},
		{"over a planted link", []mesos.Resource{vol("planted")}, `linking volume "planted"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sandbox, outside := t.TempDir(), t.TempDir()
			td, dir := taskDir(t, sandbox)
			if err := os.Symlink(outside, filepath.Join(dir, "planted")); err != nil {
				t.Fatal(err)
			}
			ti := &mesos.TaskInfo{Resources: tc.res}
			err := linkVolumes(ti, sandbox, td)
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("%d entries written outside the sandbox", len(ents))
			}
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Linking again (a relaunch in the same sandbox) is fine.
			if err := linkVolumes(ti, sandbox, td); err != nil {
				t.Errorf("second link: %v", err)
			}
			for _, r := range tc.res {
				if r.Disk == nil {
					continue
				}
				cp := r.Disk.Volume.ContainerPath
				if got, err := os.Readlink(filepath.Join(dir, cp)); err != nil || got != filepath.Join(sandbox, cp) {
					t.Errorf("%s: link %q, %v", cp, got, err)
				}
			}
		})
	}
}

// TestLinkParentVolumes: a task's SANDBOX_PATH volumes of type PARENT (the
// SDK's view of its pod's volumes, which the executor holds) are linked
// like its own volumes; one leaving the executor's sandbox fails.
func TestLinkParentVolumes(t *testing.T) {
	parent := func(cp, path string) mesos.Volume {
		return mesos.Volume{ContainerPath: cp, Mode: mesos.RW.Enum(), Source: &mesos.Volume_Source{
			Type:        mesos.Volume_Source_SANDBOX_PATH,
			SandboxPath: &mesos.Volume_Source_SandboxPath{Type: mesos.Volume_Source_SandboxPath_PARENT, Path: path},
		}}
	}
	sandbox := t.TempDir()
	td, dir := taskDir(t, sandbox)
	ti := &mesos.TaskInfo{Container: &mesos.ContainerInfo{Volumes: []mesos.Volume{parent("shared", "shared"), parent("view", "data")}}}
	if err := linkVolumes(ti, sandbox, td); err != nil {
		t.Fatal(err)
	}
	for cp, src := range map[string]string{"shared": "shared", "view": "data"} {
		if got, err := os.Readlink(filepath.Join(dir, cp)); err != nil || got != filepath.Join(sandbox, src) {
			t.Errorf("%s: link %q, %v", cp, got, err)
		}
	}
	ti = &mesos.TaskInfo{Container: &mesos.ContainerInfo{Volumes: []mesos.Volume{parent("x", "../outside")}}}
	if err := linkVolumes(ti, sandbox, td); err == nil || !strings.Contains(err.Error(), "inside its sandbox") {
		t.Errorf("a parent path leaving the sandbox: %v", err)
	}
}

// taskDir creates and opens the sandbox of task "t" under the executor
// sandbox, as spawnTask does, and returns it and its path.
func taskDir(t *testing.T, sandbox string) (*sandboxfs.Dir, string) {
	t.Helper()
	td, err := openTaskDir(sandbox, "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { td.Close() })
	return td, td.Name()
}
