package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a new pseudo-terminal's master and slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here (/dev/ptmx: %v)", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// startOnTerminal starts cmd (a copy of this binary as healthd, or a shell
// running it) as the session leader of the terminal slave, its stdin and
// stdout, and its stderr unless cmd has one; it returns a channel closed
// once cmd has ended and what the terminal showed, read from master. cmd
// and everything in its session (a job-control shell's jobs are in process
// groups of their own, which killing the shell leaves running) are killed
// and cmd waited for at the test's end.
func startOnTerminal(t *testing.T, cmd *exec.Cmd, master, slave *os.File) (done chan struct{}, out *syncBuf) {
	t.Helper()
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	cmd.Stdin, cmd.Stdout = slave, slave
	if cmd.Stderr == nil {
		cmd.Stderr = slave
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 10 * time.Second // a stopped command holding stderr must not hang the test
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan struct{})
	go func() { // owned by the test: waited for at its cleanup
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		killSession(cmd.Process.Pid)
		<-done
	})
	out = &syncBuf{}
	go func() { // owned by the test: ends when the terminal is closed at its cleanup
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	return done, out
}

// killSession sends SIGKILL to every process of the session sid leads
// (field 6 of /proc/PID/stat), the leader last.
func killSession(sid int) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == sid {
			continue
		}
		// State, ppid, pgrp, session.
		if f := procStat(pid); len(f) > 3 && f[3] == strconv.Itoa(sid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	syscall.Kill(sid, syscall.SIGKILL)
}

// TestCommandReadsTheTerminal runs healthd as `docker run -it` does: the
// session leader of a terminal, which is its stdin. CMD, in a process group
// of its own, was a background job of that terminal: its first read of it
// stopped it with SIGTTIN and healthd waited forever (tini's users met the
// same with python and irb, krallin/tini#19). healthd now hands CMD's group
// the terminal.
func TestCommandReadsTheTerminal(t *testing.T) {
	master, slave := openPTY(t)
	stderr := &syncBuf{}
	cmd := exec.Command(os.Args[0], "--log-format", "json", "--", "sh", "-c", `read line; echo "got:$line"; exit 7`)
	cmd.Stderr = stderr
	done, out := startOnTerminal(t, cmd, master, slave)
	// Typed once the command runs: the terminal's line discipline keeps it
	// for whoever reads first.
	deadline := time.Now().Add(patience)
	for !strings.Contains(stderr.String(), "healthd started") {
		if time.Now().After(deadline) {
			t.Fatalf("healthd did not start; stderr:\n%s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := master.Write([]byte("typed\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		// What CMD wrote may still be on its way from the terminal to
		// the reader of master when healthd has exited.
		for !strings.Contains(out.String(), "got:typed") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if code := cmd.ProcessState.ExitCode(); code != 7 || !strings.Contains(out.String(), "got:typed") {
			t.Errorf("exit %d (want the command's 7), terminal:\n%s\nstderr:\n%s", code, out, stderr)
		}
	case <-time.After(patience):
		t.Fatalf("healthd did not exit: the command is stopped reading the terminal?\nterminal:\n%s\nstderr:\n%s", out, stderr)
	}
}

// TestTerminalBackAfterTheCommand runs healthd from a script that owns a
// terminal (sh -c '...; read line', no job control, so healthd is in the
// script's foreground group). healthd handed the terminal to CMD's group
// and never took it back: once CMD had ended (or its exec failed after the
// hand-over), the terminal's foreground was a group that no longer
// existed, so the script's next read of its own terminal failed (EIO) or
// stopped it (SIGTTIN), and Ctrl-C reached nobody.
func TestTerminalBackAfterTheCommand(t *testing.T) {
	tests := []struct {
		name string
		cmd  string // split into words by the script
		code string // healthd's exit code, as the script sees it
	}{
		{"command exits", "true", "0"},
		{"command fails", "false", "1"},
		{"exec fails after the hand-over", "NOINTERP", "126"}, // a script whose interpreter is missing
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, slave := openPTY(t)
			noInterp := filepath.Join(t.TempDir(), "script")
			if err := os.WriteFile(noInterp, []byte("#!/nonexistent/interpreter\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			script := `"$0" --log-format json -- $1 2>/dev/null; echo "healthd:$?"; read line; echo "after:$line"`
			cmd := exec.Command("sh", "-c", script, os.Args[0], strings.ReplaceAll(tt.cmd, "NOINTERP", noInterp))
			_, out := startOnTerminal(t, cmd, master, slave)
			deadline := time.Now().Add(patience)
			for !strings.Contains(out.String(), "healthd:") {
				if time.Now().After(deadline) {
					t.Fatalf("healthd did not end; terminal:\n%s", out)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := master.Write([]byte("typed\n")); err != nil {
				t.Fatal(err)
			}
			for !strings.Contains(out.String(), "after:") || !strings.HasSuffix(out.String(), "\n") {
				if time.Now().After(deadline) {
					t.Fatalf("the script did not go on: stopped reading its terminal?\nterminal:\n%s", out)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := out.String(); !strings.Contains(got, "healthd:"+tt.code) || !strings.Contains(got, "after:typed") {
				t.Errorf("want healthd:%s and after:typed (the script reads its terminal again); terminal:\n%s", tt.code, got)
			}
		})
	}
}

// TestTostopDoesNotStopHealthd: with `stty tostop`, a background process
// that writes to the terminal is stopped by SIGTTOU. Once healthd had
// handed the terminal to CMD it was such a process, so its first log line
// ("healthd started") stopped it: a job-control shell saw healthd's job
// stopped (exit 150) and left it behind, stopped, with CMD running on.
// healthd now ignores SIGTTOU while CMD has the terminal.
func TestTostopDoesNotStopHealthd(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash for a job-control shell (set -m): not installed")
	}
	master, slave := openPTY(t)
	// set -m: the job-control shell puts healthd in a group of its own and
	// the terminal's foreground, as an interactive shell does; healthd's
	// group then is not orphaned, so SIGTTOU stops it rather than failing
	// the write.
	script := `set -m; stty tostop || exit 9; "$0" --log-format json -- head -n1; echo "rc:$?"`
	cmd := exec.Command(bash, "-c", script, os.Args[0])
	_, out := startOnTerminal(t, cmd, master, slave)
	deadline := time.Now().Add(patience)
	for !strings.Contains(out.String(), "healthd started") && !strings.Contains(out.String(), "rc:") {
		if time.Now().After(deadline) {
			t.Fatalf("neither healthd's start nor the shell's next line; terminal:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(out.String(), "healthd started") {
		if _, err := master.Write([]byte("typed\n")); err != nil { // for CMD, head -n1
			t.Fatal(err)
		}
	}
	for !strings.Contains(out.String(), "rc:") || !strings.HasSuffix(out.String(), "\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the shell did not go on; terminal:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := out.String(); !strings.Contains(got, "rc:0") || !strings.Contains(got, "command exited") {
		t.Errorf("want healthd to log and exit 0 (rc:150 is healthd stopped by SIGTTOU); terminal:\n%s", got)
	}
}

// TestForegroundJobHandsTheTerminal runs healthd as a job of a
// job-control shell (set -m, as an interactive shell) and moves it between
// background and foreground. Started in the background (`healthd -- CMD
// &`), healthd had no terminal to hand over, and `fg` gave the terminal to
// healthd's group, not CMD's: CMD's read of it stopped CMD with SIGTTIN,
// healthd ran on, so the shell's job never showed as stopped, and the
// foreground job hung. Likewise Ctrl-Z stopped CMD but not healthd, and the
// shell, waiting for healthd, never got its terminal back. Now a stop of
// CMD by job control stops healthd's job too (so the shell sees it, and
// fg continues it), and in the foreground CMD's group gets the terminal.
func TestForegroundJobHandsTheTerminal(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash for a job-control shell (set -m, fg): not installed")
	}
	// The shell script's $0 is healthd, $1 the file CMD creates once it
	// runs ($started), $2 CMD's script. waitfor waits (at most 60 s) for
	// a condition.
	const waitFor = `started=$1
waitfor() { i=0; until eval "$1"; do i=$((i+1)); [ $i -gt 1200 ] && exit 9; sleep 0.05; done; }
`
	tests := []struct {
		name   string
		script string // after set -m and waitFor; ends with fg and echo "rc:$?"
		ctrlZ  bool   // the test types Ctrl-Z once CMD runs, then waits for "suspended:"
		want   string // in the terminal besides got:typed and rc:7
	}{
		{"background, then fg", `"$0" --log-format json -- sh -c "$2" sh "$1" &
waitfor '[ -e "$started" ]'; echo "backgrounded"
fg %1 >/dev/null; echo "rc:$?"`, false, "backgrounded"},
		{"background, stopped reading, then fg", `"$0" --log-format json -- sh -c "$2" sh "$1" &
waitfor '[ -n "$(jobs -s)" ]'; echo "backgrounded"; echo "job stopped"
fg %1 >/dev/null; echo "rc:$?"`, false, "job stopped"},
		{"foreground, Ctrl-Z, then fg", `"$0" --log-format json -- sh -c "$2" sh "$1"; echo "suspended:$?"; echo "backgrounded"
fg %1 >/dev/null; echo "rc:$?"`, true, "suspended:148"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			master, slave := openPTY(t)
			started := filepath.Join(t.TempDir(), "started")
			// CMD says it runs (healthd has started it) before it reads.
			cmdScript := `: > "$1"; read line; echo "got:$line"; exit 7`
			cmd := exec.Command(bash, "-c", "set -m\n"+waitFor+tt.script, os.Args[0], started, cmdScript)
			_, out := startOnTerminal(t, cmd, master, slave)
			deadline := time.Now().Add(patience)
			waitOut := func(what string) {
				t.Helper()
				for !strings.Contains(out.String(), what) {
					if time.Now().After(deadline) {
						t.Fatalf("no %q on the terminal:\n%s", what, out)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			if tt.ctrlZ {
				for _, err := os.Stat(started); err != nil; _, err = os.Stat(started) {
					if time.Now().After(deadline) {
						t.Fatalf("CMD did not start; terminal:\n%s", out)
					}
					time.Sleep(10 * time.Millisecond)
				}
				if _, err := master.Write([]byte{0x1a}); err != nil { // Ctrl-Z
					t.Fatal(err)
				}
			}
			waitOut("backgrounded")
			// The shell's fg may come after the line is typed: the
			// terminal keeps it for whoever reads first, CMD once it may.
			if _, err := master.Write([]byte("typed\n")); err != nil {
				t.Fatal(err)
			}
			waitOut("rc:")
			for !strings.HasSuffix(out.String(), "\n") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := out.String(); !strings.Contains(got, "got:typed") || !strings.Contains(got, "rc:7") || !strings.Contains(got, tt.want) {
				t.Errorf("want %q, CMD to read the typed line and the job to end with its 7; terminal:\n%s", tt.want, got)
			}
		})
	}
}

// TestStartOnTerminalLeavesNothingRunning checks the terminal tests'
// clean-up: a job-control shell's job in a process group of its own that
// survives the hang-up of its session (as healthd does, forwarding SIGHUP
// to a stopped CMD) is killed with the shell. Before, one outlived its test
// run by hours.
func TestStartOnTerminalLeavesNothingRunning(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash for a job-control shell (set -m): not installed")
	}
	pidFile := filepath.Join(t.TempDir(), "job")
	t.Run("shell", func(t *testing.T) {
		master, slave := openPTY(t)
		cmd := exec.Command(bash, "-c", `set -m; (trap "" HUP; exec sleep 600) & echo $! > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 600`, "sh", pidFile)
		startOnTerminal(t, cmd, master, slave)
		for deadline := time.Now().Add(patience); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(pidFile); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the shell did not start its job")
			}
		}
	})
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(patience); !gone(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the shell's job %d outlived its test", pid)
		}
	}
}
