//go:build linux

package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// owned maps the pid of every child started by Start to a channel closed once
// its own waiter has reaped it. wait(2) is process-wide, so this state is too.
var owned = struct {
	sync.Mutex
	m map[int]chan struct{}
}{m: map[int]chan struct{}{}}

// BecomeSubreaper marks this process as a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to it
// instead of to PID 1, so it can reap them. PID 1 need not call it.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}

// IsInit reports whether this process is PID 1 of its pid namespace.
func IsInit() bool { return os.Getpid() == 1 }

// orphanPoll is how often ReapOrphans looks for exited children even without
// a SIGCHLD (signals coalesce; this bounds how long a zombie can linger).
const orphanPoll = time.Second

// ReapOrphans reaps every exited child that was not started by Start — the
// orphans a PID 1 or a subreaper inherits — until ctx is done. It leaves
// children started by Start to their own waiters. log receives one debug
// record per orphan reaped; it may be nil.
//
// Run at most one ReapOrphans per process, and start children only with
// Start while it runs: a child started by os/exec could be reaped here and its
// Wait would then fail.
func ReapOrphans(ctx context.Context, log *slog.Logger) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	tick := time.NewTicker(orphanPoll)
	defer tick.Stop()
	for {
		for reapOne(ctx, log) {
		}
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		case <-tick.C:
		}
	}
}

// reapOne handles one exited child and reports whether there may be more.
func reapOne(ctx context.Context, log *slog.Logger) bool {
	owned.Lock()
	pid, err := peekExited()
	if err != nil || pid == 0 {
		owned.Unlock()
		return false
	}
	if reaped, ok := owned.m[pid]; ok {
		owned.Unlock()
		// Its waiter is reaping it right now (it only kills the group
		// first); until then waitid keeps reporting this pid.
		select {
		case <-reaped:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var ws unix.WaitStatus
	_, err = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	owned.Unlock()
	if err == nil && log != nil {
		log.Debug("reaped orphan", "pid", pid, "status", statusOf(ws).String())
	}
	return err == nil || errors.Is(err, unix.EINTR)
}

// peekExited returns the pid of an exited child without reaping it, or 0.
func peekExited() (int, error) {
	var info unix.Siginfo
	err := ignoringEINTR(func() error {
		return unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	})
	if err != nil {
		return 0, err // ECHILD: no children at all
	}
	return siginfoPid(&info), nil
}

// siginfoPid reads si_pid from a SIGCHLD siginfo_t: after three int32s
// (signo, errno, code) and, on 64-bit systems, padding to align the union.
func siginfoPid(info *unix.Siginfo) int {
	const off = 3*4 + (unsafe.Sizeof(uintptr(0)) - 4)
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(info), off)))
}

// cldStopped is si_code CLD_STOPPED: the child was stopped by a signal.
const cldStopped = 5

// siginfoStatus reads si_status from a SIGCHLD siginfo_t: after si_pid and
// si_uid. For CLD_STOPPED it is the signal that stopped the child.
func siginfoStatus(info *unix.Siginfo) int {
	const off = 3*4 + (unsafe.Sizeof(uintptr(0)) - 4) + 4 + 4
	return int(*(*int32)(unsafe.Add(unsafe.Pointer(info), off)))
}

// KillChildren SIGKILLs and reaps every child this process still has —
// typically the orphans a subreaper inherited — until none is left or
// timeout passes, and returns how many live children it killed, each
// counted once. Killing an orphan can re-parent its own children here, so it
// repeats until the set is empty: each round signals the children it finds
// once, then waits until every one of them has exited (a pidfd per child,
// where the kernel has them) and reaps them before it looks again. Call it
// only once every child started with os/exec or Start has been waited for:
// it reaps whatever exits.
func KillChildren(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	self := os.Getpid()
	killed := 0
	for {
		kids, err := childrenOf(self)
		if err != nil {
			return killed, err
		}
		if len(kids) == 0 {
			return killed, nil
		}
		for _, k := range kids {
			// A zombie is signalled too: a thread-group leader that
			// exited alone shows as one while its other threads run.
			if syscall.Kill(k.pid, syscall.SIGKILL) == nil && !k.zombie {
				killed++
			}
		}
		if err := reapAll(kids, deadline); err != nil {
			return killed, fmt.Errorf("%w after %s", err, timeout)
		}
	}
}

// reapAll waits until every one of kids has exited, or deadline, and reaps
// them. It waits on a pidfd per child (Linux 5.3 and later) and, where the
// kernel has none, polls every 10 ms.
func reapAll(kids []child, deadline time.Time) error {
	var fds []unix.PollFd
	for _, k := range kids {
		// Without a pidfd (an old kernel; ESRCH: reaped already) the
		// reaping below polls.
		if fd, err := unix.PidfdOpen(k.pid, 0); err == nil {
			defer unix.Close(fd)
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		}
	}
	// A pidfd is readable once its process has exited; poll ignores an
	// entry whose fd is negative, which is how one is retired.
	for pending := len(fds); pending > 0; {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%d children still alive", pending)
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("waiting for children: %w", err)
		}
		for i := range fds {
			if n > 0 && fds[i].Fd >= 0 && fds[i].Revents != 0 {
				fds[i].Fd = -1
				pending--
			}
		}
	}
	for _, k := range kids {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(k.pid, &ws, syscall.WNOHANG, nil)
			if pid == k.pid || errors.Is(err, syscall.ECHILD) {
				break // reaped, here or by its own waiter
			}
			if err != nil && !errors.Is(err, syscall.EINTR) {
				return fmt.Errorf("reaping %d: %w", k.pid, err)
			}
			// Only a child without a pidfd can still be running here.
			if time.Now().After(deadline) {
				return fmt.Errorf("child %d still alive", k.pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// child is a process whose parent is this one.
type child struct {
	pid    int
	zombie bool // it has exited and waits to be reaped
}

// childrenOf lists the processes whose parent is ppid, zombies included.
func childrenOf(ppid int) ([]child, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var kids []child
	want := strconv.Itoa(ppid)
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if i > 0 && len(f) >= 2 && f[1] == want {
			kids = append(kids, child{pid: pid, zombie: f[0] == "Z"})
		}
	}
	return kids, nil
}

// groupMembers counts the live processes of process group pgid other than
// its leader (pid pgid), zombies excluded.
func groupMembers(pgid int) (int, error) {
	ms, err := groupProcs(pgid)
	return len(ms), err
}

// member is a live process of a group, and its parent.
type member struct{ pid, ppid int }

// groupProcs lists the live processes of process group pgid other than its
// leader (pid pgid), zombies excluded, with their parents.
func groupProcs(pgid int) ([]member, error) {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	want := strconv.Itoa(pgid)
	var ms []member
	for _, d := range dirs {
		if d.Name() == want || d.Name()[0] < '0' || d.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 3 && f[2] == want && f[0] != "Z" && f[0] != "X" {
			pid, _ := strconv.Atoi(d.Name())
			ppid, _ := strconv.Atoi(f[1])
			ms = append(ms, member{pid, ppid})
		}
	}
	return ms, nil
}
