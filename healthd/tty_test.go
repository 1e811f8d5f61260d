package main

import (
	"fmt"
	"os"
	"os/exec"
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
	cmd.Env = append(os.Environ(), asMainEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 10 * time.Second // a stopped command holding stderr must not hang the test
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	out := &syncBuf{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
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
		if code := cmd.ProcessState.ExitCode(); code != 7 || !strings.Contains(out.String(), "got:typed") {
			t.Errorf("exit %d (want the command's 7), terminal:\n%s\nstderr:\n%s", code, out, stderr)
		}
	case <-time.After(patience):
		t.Fatalf("healthd did not exit: the command is stopped reading the terminal?\nterminal:\n%s\nstderr:\n%s", out, stderr)
	}
}
