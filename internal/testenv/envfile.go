package testenv

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	sysunix "golang.org/x/sys/unix"

	mesosx "github.com/taskkit/taskkit/internal/mesos"
	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// errEnvFileInUse is wrapped by claimEnvFile's error for an env file
// another running testenv holds.
var errEnvFileInUse = errors.New("the env file of another running testenv cluster")

// claimTimeout bounds claimEnvFile's retries while the file at the path
// changes under it (another cluster replacing it as it claims it).
const claimTimeout = 2 * time.Second

// envFileClaim is a cluster's hold on its env file: an exclusive flock(2)
// on the file at the path, from before the cluster starts (or, when the
// file's directory does not exist yet, from just after) until it is
// removed on stop. Another testenv given the same path finds it locked and
// refuses to start; the lock is checked and taken in one step, so of two
// started at once, one gets it. The file is written by replacing it with a
// new file that is locked before it is renamed into place, so the path
// never names an unlocked file while the cluster runs.
//
// Every open goes through the directory's descriptor without following a
// link, does not wait (O_NONBLOCK) and accepts only a regular file
// (package sandboxfs): the default env file lies in the work dir, within
// a task's reach.
type envFileClaim struct {
	path    string
	dir     *sandboxfs.Dir // the file's directory
	base    string
	f       *os.File // the file at path, flocked
	created bool     // the claim created it empty: removed unless written
	written bool
}

// envFileBusy is claimEnvFile's error for a locked file; owner is the work
// dir its TESTENV_SANDBOX_ROOT line names, if any.
type envFileBusy struct {
	path, owner string
}

func (e *envFileBusy) Error() string {
	if e.owner != "" {
		return fmt.Sprintf("%s: the env file of the running cluster in %s", e.path, e.owner)
	}
	return fmt.Sprintf("%s: %s", e.path, errEnvFileInUse)
}

func (e *envFileBusy) Unwrap() error { return errEnvFileInUse }

// claimEnvFile locks the env file path, creating it empty if it does not
// exist, and creating its directory (and missing parents) when mkdir is
// set. A file another running cluster holds is an *envFileBusy error; so is
// an unlocked one whose TESTENV_SANDBOX_ROOT names a work dir a cluster
// holds (written by a cluster that does not lock its env file).
func claimEnvFile(path string, mkdir bool) (*envFileClaim, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dirName, base := filepath.Dir(abs), filepath.Base(abs)
	if mkdir {
		if err := os.MkdirAll(dirName, 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	dir, err := sandboxfs.Open(dirName)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	deadline := time.Now().Add(claimTimeout)
	for {
		cl, retry, err := claimOnce(dir, base, path)
		if err == nil {
			return cl, nil
		}
		if !retry || time.Now().After(deadline) {
			dir.Close()
			return nil, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// claimOnce is one attempt of claimEnvFile; retry is set when the file at
// the path changed meanwhile.
func claimOnce(dir *sandboxfs.Dir, base, path string) (cl *envFileClaim, retry bool, err error) {
	created := false
	f, err := dir.OpenFile(base, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = dir.OpenFile(base, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return nil, true, err
		}
		created = true
	}
	if err != nil {
		return nil, false, err
	}
	if err := sysunix.Flock(int(f.Fd()), sysunix.LOCK_EX|sysunix.LOCK_NB); err != nil {
		owner := envFileOwner(f)
		f.Close()
		if errors.Is(err, sysunix.EWOULDBLOCK) {
			return nil, false, &envFileBusy{path: path, owner: owner}
		}
		return nil, false, fmt.Errorf("locking %s: %w", path, err)
	}
	cl = &envFileClaim{path: path, dir: dir, base: base, f: f, created: created}
	if !cl.current() {
		// Replaced between the open and the lock: lock what is there now.
		f.Close()
		return nil, true, fmt.Errorf("%s: replaced while it was being locked", path)
	}
	if owner := envFileOwner(f); owner != "" {
		f.Close()
		return nil, false, &envFileBusy{path: path, owner: owner}
	}
	return cl, false, nil
}

// envFileOwner is the work dir a running cluster holds that the env file
// f names in its TESTENV_SANDBOX_ROOT line, or "". It reads at most 64 KiB.
func envFileOwner(f *os.File) string {
	b, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, 1<<16), 1<<16))
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

// current reports whether the claimed file is still the one at the path.
func (cl *envFileClaim) current() bool {
	st, err := cl.f.Stat()
	if err != nil {
		return false
	}
	f, err := cl.dir.OpenFile(cl.base, os.O_RDONLY, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	at, err := f.Stat()
	return err == nil && os.SameFile(st, at)
}

// write replaces the env file with data: a new file beside it, locked,
// synced and renamed over it, so that a reader never sees it half-written
// and the path never names an unlocked file.
func (cl *envFileClaim) write(data []byte) error {
	tmp := "." + cl.base + ".tmp-" + mesosx.NewID()
	f, err := cl.dir.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", cl.path, err)
	}
	fail := func(err error) error {
		f.Close()
		_ = cl.dir.Remove(tmp)
		return fmt.Errorf("%s: %w", cl.path, err)
	}
	if err := sysunix.Flock(int(f.Fd()), sysunix.LOCK_EX|sysunix.LOCK_NB); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := cl.dir.Rename(tmp, cl.dir, cl.base); err != nil {
		return fail(err)
	}
	cl.f.Close()
	cl.f, cl.created, cl.written = f, false, true
	return nil
}

// release removes the env file if it is still the claimed one (written,
// or created empty by the claim) and drops the lock. A file the claim
// found and never wrote is left as it was.
func (cl *envFileClaim) release() {
	if (cl.written || cl.created) && cl.current() {
		_ = cl.dir.Remove(cl.base)
	}
	cl.f.Close()
	cl.dir.Close()
}
