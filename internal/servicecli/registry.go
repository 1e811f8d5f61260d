package servicecli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// A local scheduler-lite registers its API address so that the commands'
// --name finds it. Each running instance has one file in the per-user
// runtime directory (RegistryDir):
//
//	<dir>/<name>-<random>.json   {"name":"hello-world","url":"http://127.0.0.1:40123","pid":4242,"token_file":"/abs/token"}
//
// The file is written to a temporary name and renamed into place (so no
// reader sees half of it), is 0600, and is held under an exclusive flock
// for the instance's life. The kernel drops the lock when the process
// ends, even by SIGKILL: a file whose lock can be taken is stale, and
// Lookup ignores and removes it. Two instances with the same name each
// have their own file; Lookup then refuses to choose.

// Registration is a running instance's entry; Close removes it.
type Registration struct {
	// Path is the registration file.
	Path string
	f    *os.File
}

// registryEntry is a registration file's content.
type registryEntry struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	PID  int    `json:"pid"`
	// TokenFile is the absolute path of the scheduler's --api-token-file;
	// the commands read it when given --name and no --api-token-file.
	TokenFile string `json:"token_file,omitempty"`
}

// RegistryDir is the per-user directory of registrations:
// $XDG_RUNTIME_DIR/taskkit/scheduler-lite, else
// $TMPDIR/taskkit-<uid>/scheduler-lite. The fallback's top directory must
// be the user's own and closed to others (0700), since a registration
// decides where the commands send the API token.
func RegistryDir() (string, error) {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "taskkit", "scheduler-lite"), nil
	}
	top := filepath.Join(os.TempDir(), fmt.Sprintf("taskkit-%d", os.Getuid()))
	if err := os.Mkdir(top, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("registry directory %s: %w", top, err)
	}
	if err := checkPrivate(top); err != nil {
		return "", err
	}
	return filepath.Join(top, "scheduler-lite"), nil
}

// checkPrivate fails unless path is a directory (not a symbolic link)
// owned by this user that no one else may enter or write.
func checkPrivate(path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("registry directory: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.IsDir():
		return fmt.Errorf("registry directory %s: not a directory", path)
	case !ok || int(sys.Uid) != os.Getuid():
		return fmt.Errorf("registry directory %s: owned by another user", path)
	case st.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("registry directory %s: mode %v lets others in (want 0700)", path, st.Mode().Perm())
	}
	return nil
}

// fileName is the registration file's name for name: "/" (DC/OS folders)
// becomes "__", as in the ZooKeeper store's root, and anything but
// letters, digits, '-', '_' and '.' becomes '_'. The file's content, not
// its name, says whose it is.
func fileName(name, suffix string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, strings.ReplaceAll(strings.TrimPrefix(name, "/"), "/", "__"))
	return clean + "-" + suffix + ".json"
}

// Register records that the scheduler named name (its framework name)
// serves its API at url, in RegistryDir, until Close. tokenFile is its
// --api-token-file ("" for none); the path is recorded, never the token.
func Register(name, url, tokenFile string) (*Registration, error) {
	dir, err := RegistryDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("registry directory: %w", err)
	}
	if err := checkPrivate(dir); err != nil {
		return nil, err
	}
	if tokenFile != "" {
		if tokenFile, err = filepath.Abs(tokenFile); err != nil {
			return nil, fmt.Errorf("--api-token-file: %w", err)
		}
	}
	data, err := json.Marshal(registryEntry{Name: name, URL: url, PID: os.Getpid(), TokenFile: tokenFile})
	if err != nil {
		return nil, err
	}
	rnd := make([]byte, 6)
	rand.Read(rnd)
	path := filepath.Join(dir, fileName(name, hex.EncodeToString(rnd)))

	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("registering %s: %w", name, err)
	}
	fail := func(err error) (*Registration, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("registering %s: %w", name, err)
	}
	// CreateTemp makes the file 0600; the lock goes with the inode through
	// the rename.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fail(err)
	}
	return &Registration{Path: path, f: f}, nil
}

// Close removes the registration; it may be called more than once.
func (r *Registration) Close() error {
	if r == nil || r.f == nil {
		return nil
	}
	err := os.Remove(r.Path)
	r.f.Close() // releases the lock
	r.f = nil
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return err
}

// errNotRegistered and errAmbiguous are Lookup's failures.
var (
	errNotRegistered = errors.New("no running scheduler-lite registered under this name")
	errAmbiguous     = errors.New("several running scheduler-lite instances registered under this name")
)

// lookup returns the live registration of name, removing stale files it
// meets. It fails with errNotRegistered (listing the live names) or
// errAmbiguous (listing the candidates' URLs and pids).
func lookup(name string) (registryEntry, error) {
	dir, err := RegistryDir()
	if err != nil {
		return registryEntry{}, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return registryEntry{}, fmt.Errorf("%w (%s is empty)", errNotRegistered, dir)
	}
	if err := checkPrivate(dir); err != nil {
		return registryEntry{}, err
	}
	live, err := liveEntries(dir)
	if err != nil {
		return registryEntry{}, err
	}
	var found, others []registryEntry
	for _, e := range live {
		if e.Name == name {
			found = append(found, e)
		} else {
			others = append(others, e)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var names []string
		for _, e := range others {
			names = append(names, e.Name)
		}
		slices.Sort(names)
		if len(names) == 0 {
			return registryEntry{}, fmt.Errorf("%w (none is registered in %s)", errNotRegistered, dir)
		}
		return registryEntry{}, fmt.Errorf("%w (registered in %s: %s)", errNotRegistered, dir, strings.Join(slices.Compact(names), ", "))
	}
	var list []string
	for _, e := range found {
		list = append(list, fmt.Sprintf("%s (pid %d)", e.URL, e.PID))
	}
	return registryEntry{}, fmt.Errorf("%w: %s", errAmbiguous, strings.Join(list, ", "))
}

// liveEntries reads every registration in dir whose owner still runs
// (holds the lock), and removes the others.
func liveEntries(dir string) ([]registryEntry, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []registryEntry
	for _, p := range paths {
		e, live, err := readEntry(p)
		if err != nil {
			return nil, err
		}
		if !live {
			os.Remove(p)
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// readEntry reads one registration and reports whether its instance runs.
// A file this user does not own is an error: it could send the token
// elsewhere.
func readEntry(path string) (registryEntry, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return registryEntry{}, false, nil // its instance just stopped
	}
	if err != nil {
		return registryEntry{}, false, fmt.Errorf("registration %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return registryEntry{}, false, fmt.Errorf("registration %s: %w", path, err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Getuid() || !st.Mode().IsRegular() {
		return registryEntry{}, false, fmt.Errorf("registration %s: not a regular file of this user", path)
	}
	// Taking a shared lock succeeds only when no instance holds its
	// exclusive one: then the file is stale.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		return registryEntry{}, false, nil
	} else if !errors.Is(err, syscall.EWOULDBLOCK) {
		return registryEntry{}, false, fmt.Errorf("registration %s: %w", path, err)
	}
	var e registryEntry
	if err := json.NewDecoder(f).Decode(&e); err != nil {
		return registryEntry{}, false, fmt.Errorf("registration %s: %w", path, err)
	}
	return e, true, nil
}
