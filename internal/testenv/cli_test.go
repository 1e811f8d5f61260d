package testenv

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEnvFileFirst: an env file that cannot be written fails "testenv up"
// with exit 1 and an error naming the flag or variable that chose it,
// nothing on stdout and nothing left behind: not the work dir it would
// have made, nor a lock file in one that exists. Most are found before
// the cluster starts; one only when it is written, after Start, which
// then stops the cluster and removes the work dir it made.
func TestEnvFileFirst(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	aDir := filepath.Join(root, "dir")
	if err := os.Mkdir(aDir, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(root, "work") // with testenv.env a directory
	if err := os.MkdirAll(filepath.Join(work, envFileName), 0o755); err != nil {
		t.Fatal(err)
	}
	newWork := filepath.Join(root, "new-work") // made by up, then removed
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string // the error's start
	}{
		{"under a file", nil, []string{"--work-dir", newWork, "--env-file", filepath.Join(file, "x.env")},
			"testenv: --env-file: " + filepath.Join(file, "x.env") + ": creating directory: " + file + " is not a directory"},
		{"under a file, by variable", []string{"TESTENV_ENV_FILE=" + filepath.Join(file, "x.env"), "TESTENV_WORK_DIR=" + newWork}, nil,
			"testenv: TESTENV_ENV_FILE: " + filepath.Join(file, "x.env") + ": creating directory: "},
		{"a directory", nil, []string{"--env-file", aDir},
			"testenv: --env-file: " + aDir + ": destination is not a regular file"},
		{"the default in the work dir", nil, []string{"--work-dir", work},
			"testenv: --work-dir: env file: " + filepath.Join(work, envFileName) + ": destination is not a regular file"},
		{"under the lock file, found after Start", nil, []string{"--work-dir", newWork, "--env-file", filepath.Join(newWork, WorkDirLock, "x.env")},
			"testenv: --env-file: " + filepath.Join(newWork, WorkDirLock, "x.env") + ": stat "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, root)
			code, out, errOut := runUp(t, tc.env, tc.args...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != ExitRuntime || out != "" || !strings.HasPrefix(lines[len(lines)-1], tc.want) {
				t.Errorf("exit %d (want %d), stdout %q (want none), the error does not start with %q:\n%s", code, ExitRuntime, out, tc.want, errOut)
			}
			after := snapshot(t, root)
			delete(before, ".") // root's mtime: new-work made and removed
			delete(after, ".")
			if !maps.Equal(before, after) {
				t.Errorf("left behind: %q, was %q", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
			}
		})
	}
}
