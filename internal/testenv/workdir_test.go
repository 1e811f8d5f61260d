package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// upHelperEnv makes the test binary run "testenv up" with its arguments:
// a testenv process, as the binary is, whose exit the test can watch.
const upHelperEnv = "TESTENV_TEST_UP"

// runUpHelper is the test binary in upHelperEnv mode.
func runUpHelper() int {
	return Run(context.Background(), append([]string{"testenv"}, os.Args[1:]...), os.Environ(), os.Stdin, os.Stdout, os.Stderr)
}

// upCommand is "testenv up args" as a process of its own group that dies
// with the test, with env added to this environment minus TESTENV_*; its
// master, DNS and agents listen on free ports of a free block, out of
// every other cluster's way.
func upCommand(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"up"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TESTENV_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, upHelperEnv+"=1", "TESTENV_AGENT_PORT=0", "TESTENV_LISTEN=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runUp runs "testenv up args" to its end (at most 15 s: an up that
// starts runs until then and fails the test).
func runUp(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := upCommand(ctx, env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("testenv up: %v", err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// snapshot describes every file under dir (mode, size, modification time,
// and a regular file's content), by path relative to dir; nil when dir
// does not exist.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m[rel] = fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[rel] += " " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestWorkDirHeldByOneCluster: while a testenv process runs on a work
// dir, a second cluster on it — through --work-dir, TESTENV_WORK_DIR, a
// symlink to it, or Start in another process — refuses to start, naming
// where the directory came from, and changes nothing in it; so does one
// on another work dir given the first's env file. The first runs on. Once the first is killed with SIGKILL, the kernel has dropped
// its lock and a cluster starts there again.
func TestWorkDirHeldByOneCluster(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "work", "new") // made by the first cluster
	link := filepath.Join(root, "link")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first := upCommand(ctx, nil, "--work-dir", dir)
	stdout, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = first.Wait() })
	var printed []string
	for sc := bufio.NewScanner(stdout); len(printed) < 6 && sc.Scan(); {
		printed = append(printed, sc.Text())
	}
	if len(printed) < 6 {
		t.Fatalf("the first up printed %q; stderr:\n%s", printed, firstErr.String())
	}
	master := strings.TrimPrefix(printed[0], "MESOS_MASTER=")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	if !strings.HasSuffix(before[WorkDirLock], fmt.Sprintf(" %d\n", first.Process.Pid)) || before[envFileName] == "" {
		t.Fatalf("the first cluster's work dir lacks its lock or env file: %v", before)
	}

	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		source string // "" for Start
		given  string // the work dir as given
		want   string // the error after "testenv: SOURCE: "; "" for the work dir's
	}{
		{"--work-dir", nil, []string{"--work-dir", dir}, "--work-dir", dir, ""},
		{"TESTENV_WORK_DIR", []string{"TESTENV_WORK_DIR=" + dir}, nil, "TESTENV_WORK_DIR", dir, ""},
		{"a symlink to it", nil, []string{"--work-dir", link}, "--work-dir", link, ""},
		{"--work-dir and --env-file elsewhere", nil, []string{"--work-dir", dir, "--env-file", filepath.Join(root, "other.env")}, "--work-dir", dir, ""},
		{"--work-dir and its env file", nil, []string{"--work-dir", dir, "--env-file", filepath.Join(dir, envFileName)}, "--work-dir", dir, ""},
		{"another work dir, its env file", nil, []string{"--work-dir", filepath.Join(root, "other"), "--env-file", filepath.Join(link, envFileName)}, "--env-file", "",
			filepath.Join(link, envFileName) + ": the env file of the running cluster in " + dir},
		{"Start", nil, nil, "", dir, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.source == "" {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				cl, err := Start(ctx, Config{WorkDir: dir})
				var fe *FieldError
				if err == nil || !errors.Is(err, ErrWorkDirInUse) || errors.Is(err, ErrConfig) || !errors.As(err, &fe) || fe.Field != "WorkDir" {
					if cl != nil {
						cancel()
						cl.Wait()
					}
					t.Fatalf("Start on a held work dir: %v, want a *FieldError of WorkDir matching ErrWorkDirInUse, not ErrConfig", err)
				}
			} else {
				code, out, errOut := runUp(t, tc.env, tc.args...)
				lines := strings.Split(strings.TrimSpace(errOut), "\n")
				want := "testenv: " + tc.source + ": " + tc.given + ": in use by another testenv cluster (flock on " + tc.given + fmt.Sprintf(", held by pid %d)", first.Process.Pid)
				if tc.want != "" {
					want = "testenv: " + tc.source + ": " + tc.want
				}
				if code != ExitRuntime || out != "" || !strings.HasPrefix(lines[len(lines)-1], want) {
					t.Errorf("exit %d (want %d), stdout %q (want none), the error does not start with %q:\n%s", code, ExitRuntime, out, want, errOut)
				}
			}
			if after := snapshot(t, dir); !maps.Equal(before, after) {
				t.Errorf("the work dir changed:\nbefore %v\nafter  %v", before, after)
			}
			for _, p := range []string{filepath.Join(root, "other.env"), filepath.Join(root, "other")} {
				if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s was written: %v", p, err)
				}
			}
			res, err := http.Get(master + "/state")
			if err != nil {
				t.Fatalf("the first cluster: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("the first cluster: GET /state: %s", res.Status)
			}
		})
	}

	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()
	cl := startCluster(t, Config{WorkDir: dir})
	if cl.WorkDir() != dir {
		t.Errorf("work dir %s, want %s", cl.WorkDir(), dir)
	}
}

// TestFailedStartLeavesNoWorkDir: a Start that fails after making its
// work dir (and the parents it lacked) removes them again; an existing work
// dir is left as it was (the lock is on the directory: the pid file goes).
func TestFailedStartLeavesNoWorkDir(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	root := t.TempDir()
	existing := filepath.Join(root, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
		want      []string // what root holds after
	}{
		{"new, with new parents", filepath.Join(root, "a", "b", "work"), []string{".", "existing"}},
		{"existing", existing, []string{".", "existing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cl, err := Start(ctx, Config{WorkDir: tc.dir, Listen: busy.Addr().String()})
			if err == nil {
				cancel()
				cl.Wait()
				t.Fatal("Start on a master address in use succeeded")
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "Listen" {
				t.Fatalf("err %v, want a FieldError of Listen", err)
			}
			if got := slices.Sorted(maps.Keys(snapshot(t, root))); !slices.Equal(got, tc.want) {
				t.Errorf("left %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWorkDirLockIsTheDirectory: the lock is on the work directory, not
// on a file in it that a task (its sandbox is below) could replace. With
// the pid file removed, or replaced by a link or a FIFO, while a cluster
// runs, a second Start on the directory is still refused, promptly (a
// FIFO is not waited on). A link or a FIFO planted there before a start
// is replaced, not followed: the file it points to is left as it was.
func TestWorkDirLockIsTheDirectory(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		plant func(p string) error
	}{
		{"removed", os.Remove},
		{"a link", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Symlink(victim, p)
		}},
		{"a FIFO", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return syscall.Mkfifo(p, 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first := startCluster(t, Config{WorkDir: dir})
			pidFile := filepath.Join(first.WorkDir(), WorkDirLock)
			if b, err := os.ReadFile(pidFile); err != nil || string(b) != fmt.Sprintf("%d\n", os.Getpid()) {
				t.Fatalf("pid file: %q, %v", b, err)
			}
			if err := tc.plant(pidFile); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				cl, err := Start(ctx, Config{WorkDir: dir})
				if err == nil {
					cancel()
					cl.Wait()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrWorkDirInUse) {
					t.Errorf("a second Start: %v, want ErrWorkDirInUse", err)
				}
			case <-time.After(waitLong):
				t.Fatal("a second Start blocked")
			}
		})
		t.Run("planted before start: "+tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, WorkDirLock)
			if err := os.WriteFile(pidFile, []byte("1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := tc.plant(pidFile); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithCancel(context.Background())
				cl, err := Start(ctx, Config{WorkDir: dir})
				if err == nil {
					t.Cleanup(func() { cancel(); cl.Wait() })
				} else {
					cancel()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(waitLong):
				t.Fatal("Start blocked")
			}
			if b, err := os.ReadFile(victim); err != nil || string(b) != "keep\n" {
				t.Errorf("the file the link points to changed: %q, %v", b, err)
			}
			if fi, err := os.Lstat(pidFile); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("the pid file is not a regular file: %v, %v", fi, err)
			}
		})
	}
}
