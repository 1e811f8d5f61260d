package testenv

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	sysunix "golang.org/x/sys/unix" // "unix" is state.go's time conversion

	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// ErrWorkDirInUse is matched (errors.Is) by Start's error when another
// running cluster, of this process or another, holds Config.WorkDir. The
// error is then a *FieldError of WorkDir that does not match ErrConfig: the
// value is valid, only taken, as an address in use is.
var ErrWorkDirInUse = errors.New("in use by another testenv cluster")

// WorkDirLock is the name of the file in a cluster's work directory that
// holds the pid of the cluster holding the directory, for the error of the
// next one. The lock itself is an exclusive flock(2) on the work directory
// (not on a file in it, which a task, whose sandbox lies below, could
// replace): held from Start until the cluster has stopped, and dropped by
// the kernel when the process exits, even by SIGKILL, so a dead cluster
// never blocks the next one. The file is removed when the cluster stops.
const WorkDirLock = "testenv.lock"

// workDir is a cluster's claim on its work directory.
type workDir struct {
	path string
	// root is the directory, open from the claim on: everything the
	// cluster makes in it is reached from root without following a link
	// (package sandboxfs), so a task that renames a directory above its
	// sandbox and puts a link in its place redirects nothing.
	root     *sandboxfs.Dir
	lock     *os.File // the directory again, holding the flock; closing it releases the lock
	temp     bool     // a temporary directory: removed on release
	created  []string // the directories openWorkDir created, outermost first
	wrotePid bool     // WorkDirLock is ours to remove
}

// openWorkDir makes the work directory (a new temporary one when dir is
// empty; dir and its missing parents otherwise) and locks it before
// anything else is written there. A directory another cluster holds is an
// error matching ErrWorkDirInUse; nothing in it is changed.
func openWorkDir(dir string) (*workDir, error) {
	w := &workDir{}
	if dir == "" {
		d, err := os.MkdirTemp("", "testenv-")
		if err != nil {
			return nil, err
		}
		w.path, w.temp = d, true
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		w.path = abs
		if w.created, err = mkdirTracked(abs); err != nil {
			w.release(true)
			return nil, err
		}
	}
	root, err := sandboxfs.Open(w.path)
	if err != nil {
		w.release(true)
		return nil, fmt.Errorf("opening the work dir: %w", err)
	}
	w.root = root
	// A second descriptor of the same directory for the lock: root's is
	// sandboxfs', and flock needs one of its own.
	lock, err := os.OpenFile(root.FDPath(), os.O_RDONLY|sysunix.O_DIRECTORY|sysunix.O_CLOEXEC, 0)
	if err != nil {
		w.release(true)
		return nil, fmt.Errorf("opening the work dir: %w", err)
	}
	if err := flockExclusive(lock); err != nil {
		lock.Close()
		if errors.Is(err, sysunix.EWOULDBLOCK) {
			holder := ""
			if pid := readHolderPid(root); pid != "" {
				holder = ", held by pid " + pid
			}
			root.Close()
			w.root = nil
			return nil, fmt.Errorf("%s: %w (flock on %s%s)", w.path, ErrWorkDirInUse, w.path, holder)
		}
		w.release(true)
		return nil, fmt.Errorf("locking %s: %w", w.path, err)
	}
	w.lock = lock
	// Ours now: tell whoever finds it locked who holds it. A hint only:
	// whatever is in its place (a link, a FIFO a task planted) is replaced,
	// never opened.
	_ = root.Remove(WorkDirLock)
	if f, err := root.OpenFile(WorkDirLock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
		w.wrotePid = true
		_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
		f.Close()
	}
	return w, nil
}

// flockExclusive takes an exclusive flock on f without waiting for it. A
// probe (workDirHeld) holds a shared lock for an instant: EWOULDBLOCK is
// taken as the answer only after a few tries over 100 ms.
func flockExclusive(f *os.File) error {
	var err error
	for i := 0; i < 5; i++ {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		err = sysunix.Flock(int(f.Fd()), sysunix.LOCK_EX|sysunix.LOCK_NB)
		if !errors.Is(err, sysunix.EWOULDBLOCK) {
			return err
		}
	}
	return err
}

// readHolderPid is the pid WorkDirLock in the work dir root names, or "":
// read without following a link or waiting on a FIFO (sandboxfs), at most
// 32 bytes, and only if they are a number.
func readHolderPid(root *sandboxfs.Dir) string {
	f, err := root.OpenFile(WorkDirLock, os.O_RDONLY, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 32))
	pid := strings.TrimSpace(string(b))
	if _, err := strconv.Atoi(pid); err != nil {
		return ""
	}
	return pid
}

// workDirHeld reports whether a running cluster holds dir (a shared flock
// on the directory, dropped at once, fails only while a cluster holds its
// exclusive one). It opens dir as a directory only (O_DIRECTORY: a FIFO or
// a file there is refused, never waited on) and creates nothing.
func workDirHeld(dir string) bool {
	f, err := os.OpenFile(dir, os.O_RDONLY|sysunix.O_DIRECTORY|sysunix.O_NONBLOCK|sysunix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(sysunix.Flock(int(f.Fd()), sysunix.LOCK_SH|sysunix.LOCK_NB), sysunix.EWOULDBLOCK)
}

// release deletes a temporary directory and, with discard (a Start that
// failed, which should leave nothing behind), the directories openWorkDir
// created; then it removes the pid file and drops the lock: the directory
// is the cluster's until it is gone.
func (w *workDir) release(discard bool) {
	if w.temp || (discard && len(w.created) > 0 && w.created[len(w.created)-1] == w.path) {
		_ = os.RemoveAll(w.path)
	}
	if discard {
		for i := len(w.created) - 1; i >= 0; i-- {
			_ = os.Remove(w.created[i]) // fails, as it should, unless empty
		}
	}
	if w.wrotePid && !w.temp {
		_ = w.root.Remove(WorkDirLock)
	}
	if w.root != nil {
		w.root.Close()
		w.root = nil
	}
	if w.lock != nil {
		w.lock.Close()
		w.lock = nil
	}
}

// mkdirTracked is os.MkdirAll(dir, 0o755) that returns the directories it
// created, outermost first. One made meanwhile by another process is not
// counted as created.
func mkdirTracked(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, &fs.PathError{Op: "mkdir", Path: d, Err: syscall.ENOTDIR}
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return nil, err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			return created, err
		}
		created = append(created, missing[i])
	}
	return created, nil
}
