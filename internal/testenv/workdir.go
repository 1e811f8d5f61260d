package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	sysunix "golang.org/x/sys/unix" // "unix" is state.go's time conversion
)

// ErrWorkDirInUse is matched (errors.Is) by Start's error when another
// running cluster, of this process or another, holds Config.WorkDir. The
// error is then a *FieldError of WorkDir that does not match ErrConfig: the
// value is valid, only taken, as an address in use is.
var ErrWorkDirInUse = errors.New("in use by another testenv cluster")

// WorkDirLock is the name of the lock file in a cluster's work directory:
// the cluster holds an exclusive flock(2) on it from Start until it has
// stopped, and writes its pid into it. The kernel drops the lock when the
// process exits, even by SIGKILL, so a dead cluster never blocks the next
// one. The file stays in a work directory given in Config.WorkDir (removing
// it would let two clusters lock two different files of one name).
const WorkDirLock = "testenv.lock"

// workDir is a cluster's claim on its work directory.
type workDir struct {
	path    string
	lock    *os.File // holds the flock; closing it releases the lock
	temp    bool     // a temporary directory: removed on release
	created []string // the directories openWorkDir created, outermost first
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
	name := filepath.Join(w.path, WorkDirLock)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		w.release(true)
		return nil, fmt.Errorf("opening the work dir's lock: %w", err)
	}
	if err := sysunix.Flock(int(f.Fd()), sysunix.LOCK_EX|sysunix.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(name); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
			holder = ", held by pid " + strings.TrimSpace(string(b))
		}
		f.Close()
		if errors.Is(err, sysunix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w (flock on %s%s)", w.path, ErrWorkDirInUse, name, holder)
		}
		w.release(true)
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	// Ours now: tell whoever finds it locked who holds it.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	w.lock = f
	return w, nil
}

// envFileOwner is the work dir of the running cluster whose env file path
// is (its TESTENV_SANDBOX_ROOT line names a work dir whose lock is held),
// or "". It creates and changes nothing.
func envFileOwner(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if dir, ok := strings.CutPrefix(line, "TESTENV_SANDBOX_ROOT="); ok && dir != "" && workDirHeld(dir) {
			return dir
		}
	}
	return ""
}

// workDirHeld reports whether a running cluster holds dir's lock, without
// creating the lock file (a shared flock, dropped at once, fails only
// while a cluster holds its exclusive one).
func workDirHeld(dir string) bool {
	f, err := os.Open(filepath.Join(dir, WorkDirLock))
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(sysunix.Flock(int(f.Fd()), sysunix.LOCK_SH|sysunix.LOCK_NB), sysunix.EWOULDBLOCK)
}

// release deletes a temporary directory and, with discard (a Start that
// failed, which should leave nothing behind), the directories openWorkDir
// created; then it drops the lock: the directory is the cluster's until it
// is gone.
func (w *workDir) release(discard bool) {
	if w.temp || (discard && len(w.created) > 0 && w.created[len(w.created)-1] == w.path) {
		_ = os.RemoveAll(w.path)
	}
	if discard {
		for i := len(w.created) - 1; i >= 0; i-- {
			_ = os.Remove(w.created[i]) // fails, as it should, unless empty
		}
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
