package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// TestEnvFileClaim: the env file is claimed by a lock on the file at its
// path, taken in one step: a second claim of a held file fails naming the
// holder's work dir when the file names one, however the file was
// replaced meanwhile; a claim released removes the file only while it is
// still the claimed one. A link, a FIFO or a directory in the file's place
// (the default env file lies in the work dir, within a task's reach) is
// refused at once, without following or waiting on it.
func TestEnvFileClaim(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cluster.env")
	first, err := claimEnvFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := claimEnvFile(path, false); !errors.Is(err, errEnvFileInUse) {
		t.Fatalf("a second claim of a held file: %v, want errEnvFileInUse", err)
	}
	work := startCluster(t, Config{}).WorkDir()
	if err := first.write([]byte("MESOS_MASTER=x\nTESTENV_SANDBOX_ROOT=" + work + "\n")); err != nil {
		t.Fatal(err)
	}
	var busy *envFileBusy
	if _, err := claimEnvFile(path, false); !errors.As(err, &busy) || busy.owner != work ||
		err.Error() != path+": the env file of the running cluster in "+work {
		t.Fatalf("a claim of the written file: %v, want it held by %s", err, work)
	}
	// Replaced by someone else: not the first claim's to remove.
	if err := os.WriteFile(path+".new", []byte("other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	first.release()
	if b, err := os.ReadFile(path); err != nil || string(b) != "other\n" {
		t.Errorf("release removed or changed a file it no longer held: %q, %v", b, err)
	}
	// Claimed and released: removed.
	second, err := claimEnvFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.write([]byte("MESOS_MASTER=y\n")); err != nil {
		t.Fatal(err)
	}
	second.release()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("release left the file it wrote: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in the directory: %v", ents)
	}

	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		plant func(p string) error
		want  error
	}{
		{"a link", func(p string) error { return os.Symlink(victim, p) }, sandboxfs.ErrSymlink},
		{"a FIFO", func(p string) error { return syscall.Mkfifo(p, 0o644) }, sandboxfs.ErrNotRegular},
		{"a hard link", func(p string) error { return os.Link(victim, p) }, sandboxfs.ErrNotRegular},
		{"a directory", func(p string) error { return os.Mkdir(p, 0o755) }, syscall.EISDIR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "testenv.env")
			if err := tc.plant(p); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				cl, err := claimEnvFile(p, false)
				if err == nil {
					cl.release()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Errorf("claim: %v, want %v", err, tc.want)
				}
			case <-time.After(waitLong):
				t.Fatal("the claim blocked")
			}
			if b, err := os.ReadFile(victim); err != nil || string(b) != "keep\n" {
				t.Errorf("the file outside changed: %q, %v", b, err)
			}
		})
	}
}

// TestEnvFileOwnerNeverWaits: an env file naming a work dir whose pid
// file is a FIFO (a task can plant one: its sandbox is below the work
// dir) is read without waiting on it: "up" starts, as the work dir is not
// held.
func TestEnvFileOwnerNeverWaits(t *testing.T) {
	root := t.TempDir()
	old := filepath.Join(root, "old")
	if err := os.Mkdir(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(old, WorkDirLock), 0o644); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(root, "cluster.env")
	if err := os.WriteFile(envFile, []byte("MESOS_MASTER=http://127.0.0.1:1\nTESTENV_SANDBOX_ROOT="+old+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	up := startUp(t, ctx, "--work-dir", filepath.Join(root, "new"), "--env-file", envFile)
	if line := up.firstLine(waitLong); !strings.HasPrefix(line, "MESOS_MASTER=") {
		_ = up.cmd.Process.Kill()
		_, errOut := up.wait()
		t.Fatalf("up printed %q within %v; stderr:\n%s", line, waitLong, errOut)
	}
	_ = up.cmd.Process.Signal(syscall.SIGTERM)
	if code, errOut := up.wait(); code != ExitOK {
		t.Errorf("exit %d:\n%s", code, errOut)
	}
}

// TestOneClusterPerEnvFile: two "testenv up" on different work dirs given
// one env file at the same moment: exactly one starts; the other exits 1
// naming --env-file, having started nothing. The env file names the one
// that runs, and is gone once it stops.
func TestOneClusterPerEnvFile(t *testing.T) {
	root := t.TempDir()
	envFile := filepath.Join(root, "shared.env")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	type result struct {
		work, first string
		up          *upProc
	}
	results := make(chan result, 2)
	for _, w := range []string{"a", "b"} {
		work := filepath.Join(root, w)
		go func() {
			p := startUp(t, ctx, "--work-dir", work, "--env-file", envFile)
			results <- result{work: work, first: p.firstLine(waitLong), up: p}
		}()
	}
	var running *result
	failed := 0
	for i := 0; i < 2; i++ {
		r := <-results
		if strings.HasPrefix(r.first, "MESOS_MASTER=") {
			if running != nil {
				t.Fatalf("both clusters started (%s and %s)", running.work, r.work)
			}
			running = &r
			continue
		}
		code, errOut := r.up.wait()
		if code != ExitRuntime || !strings.Contains(errOut, "testenv: --env-file: "+envFile+": the env file of ") {
			t.Errorf("%s: exit %d, stderr:\n%s", r.work, code, errOut)
		}
		if _, err := os.Stat(r.work); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the refused cluster left its work dir: %v", err)
		}
		failed++
	}
	if running == nil || failed != 1 {
		t.Fatalf("%d refused, want 1 (and one running)", failed)
	}
	if b, err := os.ReadFile(envFile); err != nil || !strings.Contains(string(b), "TESTENV_SANDBOX_ROOT="+running.work+"\n") {
		t.Errorf("the env file does not name the running cluster %s: %q, %v", running.work, b, err)
	}
	_ = running.up.cmd.Process.Signal(syscall.SIGTERM)
	if code, errOut := running.up.wait(); code != ExitOK {
		t.Errorf("the running cluster: exit %d:\n%s", code, errOut)
	}
	if _, err := os.Lstat(envFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the env file outlived its cluster: %v", err)
	}
}

// upProc is a "testenv up" process (upCommand) started by startUp.
type upProc struct {
	cmd    *exec.Cmd
	lines  chan string // stdout, line by line; closed at its end
	stderr *bytes.Buffer
}

// startUp starts "testenv up args"; it is killed when ctx ends.
func startUp(t *testing.T, ctx context.Context, args ...string) *upProc {
	return startUpCommand(t, upCommand(ctx, nil, args...))
}

// startUpCommand starts cmd, an upCommand.
func startUpCommand(t *testing.T, cmd *exec.Cmd) *upProc {
	p := &upProc{cmd: cmd, lines: make(chan string, 16), stderr: &bytes.Buffer{}}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Error(err)
		close(p.lines)
		return p
	}
	if err := p.cmd.Start(); err != nil {
		t.Error(err)
		close(p.lines)
		return p
	}
	go func() {
		defer close(p.lines)
		for sc := bufio.NewScanner(stdout); sc.Scan(); {
			p.lines <- sc.Text()
		}
	}()
	return p
}

// firstLine is the first line up prints, or "" if it prints none within
// timeout.
func (p *upProc) firstLine(timeout time.Duration) string {
	select {
	case l := <-p.lines:
		return l
	case <-time.After(timeout):
		return ""
	}
}

// wait waits for up to exit; its exit code and stderr.
func (p *upProc) wait() (int, string) {
	for range p.lines {
	}
	_ = p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode(), p.stderr.String()
}
