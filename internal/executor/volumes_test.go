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
			sb, td, dir := taskDir(t, sandbox)
			if err := os.Symlink(outside, filepath.Join(dir, "planted")); err != nil {
				t.Fatal(err)
			}
			ti := &mesos.TaskInfo{Resources: tc.res}
			err := linkVolumes(ti, sb, td)
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
			if err := linkVolumes(ti, sb, td); err != nil {
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
// like its own volumes, their sources created in the executor sandbox when
// missing, as Mesos' volume/sandbox_path isolator does: a directory with
// its parents, never through a link the pod's tasks put there. One leaving
// the executor's sandbox fails.
func TestLinkParentVolumes(t *testing.T) {
	parent := func(cp, path string) mesos.Volume {
		return mesos.Volume{ContainerPath: cp, Mode: mesos.RW.Enum(), Source: &mesos.Volume_Source{
			Type:        mesos.Volume_Source_SANDBOX_PATH,
			SandboxPath: &mesos.Volume_Source_SandboxPath{Type: mesos.Volume_Source_SandboxPath_PARENT, Path: path},
		}}
	}
	sandbox, outside := t.TempDir(), t.TempDir()
	sb, td, dir := taskDir(t, sandbox)
	// Sources already there: a file, and a link (the agent's link to a
	// volume), each left as it is.
	if err := os.WriteFile(filepath.Join(sandbox, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(sandbox, "volume")); err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{"shared": "shared", "view": "data", "deep": "a/b/c", "f": "file", "v": "volume"}
	var vols []mesos.Volume
	for cp, src := range sources {
		vols = append(vols, parent(cp, src))
	}
	ti := &mesos.TaskInfo{Container: &mesos.ContainerInfo{Volumes: vols}}
	if err := linkVolumes(ti, sb, td); err != nil {
		t.Fatal(err)
	}
	for cp, src := range sources {
		if got, err := os.Readlink(filepath.Join(dir, cp)); err != nil || got != filepath.Join(sandbox, src) {
			t.Errorf("%s: link %q, %v", cp, got, err)
		}
	}
	for _, src := range []string{"shared", "data", "a/b/c"} {
		if fi, err := os.Lstat(filepath.Join(sandbox, src)); err != nil || !fi.IsDir() {
			t.Errorf("source %s: %v, %v", src, fi, err)
		}
	}
	if fi, err := os.Lstat(filepath.Join(sandbox, "volume")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the existing link was replaced: %v, %v", fi, err)
	}
	ti = &mesos.TaskInfo{Container: &mesos.ContainerInfo{Volumes: []mesos.Volume{parent("x", "volume/sub")}}}
	if err := linkVolumes(ti, sb, td); err == nil || !strings.Contains(err.Error(), "volume is a symbolic link") {
		t.Errorf("a source under a link: %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("%d entries created outside the sandbox", len(ents))
	}
	ti = &mesos.TaskInfo{Container: &mesos.ContainerInfo{Volumes: []mesos.Volume{parent("x", "../outside")}}}
	if err := linkVolumes(ti, sb, td); err == nil || !strings.Contains(err.Error(), "inside its sandbox") {
		t.Errorf("a parent path leaving the sandbox: %v", err)
	}
}

// taskDir opens the executor sandbox and creates and opens the sandbox of
// task "t" under it, as Run and spawnTask do, and returns both and the
// task sandbox's path.
func taskDir(t *testing.T, sandbox string) (sb, td *sandboxfs.Dir, dir string) {
	t.Helper()
	sb, err := sandboxfs.Open(sandbox)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	td, err = openTaskDir(sb, "t")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { td.Close() })
	return sb, td, td.Name()
}
