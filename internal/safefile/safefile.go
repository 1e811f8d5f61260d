// Package safefile writes files so that no reader ever sees a half-written
// one, and so that a set of files is written whole or not at all.
//
// Each file is rendered by the caller into memory, then written to a temporary
// file in the destination's directory, synced, and renamed over the
// destination. When rename cannot work — the destination is a bind-mounted
// single file (EBUSY, EXDEV) or its directory is not writable while the file
// is — Auto falls back to rewriting the file in place; Rename and InPlace force
// one strategy.
//
// WriteAll prepares every file (directories, temporary files, permission
// checks) before it touches any destination. If preparing any file fails,
// nothing is changed and every temporary file and created directory is
// removed. If a commit step fails after others succeeded, the ones already
// committed are rolled back to their previous content.
package safefile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-multierror"
)

// Mode is the write strategy.
type Mode int

const (
	// Auto renames a temporary file over the destination and falls back to
	// writing in place when that cannot work.
	Auto Mode = iota
	// Rename always renames; it fails where rename cannot work.
	Rename
	// InPlace truncates and rewrites the destination (same inode), which is
	// what a bind-mounted single file needs.
	InPlace
)

// ParseMode parses "auto", "rename" or "inplace".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return Auto, nil
	case "rename":
		return Rename, nil
	case "inplace", "in-place":
		return InPlace, nil
	}
	return Auto, fmt.Errorf("unknown write mode %q (want auto, rename or inplace)", s)
}

func (m Mode) String() string {
	switch m {
	case Rename:
		return "rename"
	case InPlace:
		return "inplace"
	}
	return "auto"
}

// File is one file to write.
type File struct {
	// Path is the destination.
	Path string
	// Data is the complete new content.
	Data []byte
	// Perm is the mode of a new file (and of an existing one unless KeepPerm).
	Perm os.FileMode
	// KeepPerm keeps the mode and owner of an existing destination.
	KeepPerm bool
	// Mode is the write strategy.
	Mode Mode
	// Within, when set, is the directory the file written must lie in,
	// symbolic links followed (TargetWithin); it is judged when the file
	// is checked and again when it is written, so a link made in between
	// cannot lead the write out of it. "" allows anywhere.
	Within string
}

// Result says how a file was written.
type Result struct {
	Path    string
	Existed bool
	Changed bool // false when the destination already held Data with the right mode
	Method  Mode // Rename or InPlace: what was actually done
}

// Write writes one file; see WriteAll.
func Write(f File) (Result, error) {
	res, err := WriteAll([]File{f})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

type plan struct {
	f        File   // f.Path is Target(name): the file written
	name     string // the destination as given
	perm     os.FileMode
	existed  bool
	old      []byte // previous content of an existing destination
	uid, gid int    // owner to keep, or -1
	tmp      string // prepared temporary file, for rename
	inPlace  bool
	backup   string // hard link to the replaced file, for rollback
	done     bool
	method   Mode
	changed  bool
	dirsMade []string
}

// WriteAll writes every file or none of them. All preparation errors are
// reported together, each naming its file.
func WriteAll(files []File) ([]Result, error) {
	plans, err := prepareAll(files)
	if err != nil {
		cleanup(plans)
		return nil, err
	}
	for _, p := range plans {
		if err := commit(p); err != nil {
			rollback(plans)
			cleanup(plans)
			return nil, err
		}
	}
	results := make([]Result, len(plans))
	for i, p := range plans {
		if p.backup != "" {
			_ = os.Remove(p.backup)
		}
		results[i] = Result{Path: p.name, Existed: p.existed, Changed: p.changed, Method: p.method}
	}
	syncDirs(plans)
	return results, nil
}

// CheckWritable reports, for every file at once, why it could not be
// written — the destination is not a regular file, its directory (or the
// nearest one that exists, when directories are to be created) is not
// writable or is not a directory, the file itself is not writable in place —
// without writing, creating or opening anything for writing. (What it
// cannot see — a full disk, say — WriteAll still meets before it changes
// any destination.)
func CheckWritable(files []File) error {
	var errs *multierror.Error
	for _, f := range files {
		if err := checkWritable(f); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	return errs.ErrorOrNil()
}

func checkWritable(f File) error {
	if f.Path == "" {
		return errors.New("empty destination path")
	}
	target, err := TargetWithin(f.Path, f.Within)
	if err != nil {
		return err
	}
	f.Path = target
	const wOK = 2 // access(2) W_OK
	fi, err := os.Stat(f.Path)
	switch {
	case err == nil:
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: destination is not a regular file", f.Path)
		}
		dirErr := syscall.Access(filepath.Dir(f.Path), wOK)
		fileErr := syscall.Access(f.Path, wOK)
		switch f.Mode {
		case Rename:
			if dirErr != nil {
				return fmt.Errorf("%s: directory not writable: %w", f.Path, dirErr)
			}
		case InPlace:
			if fileErr != nil {
				return fmt.Errorf("%s: not writable in place: %w", f.Path, fileErr)
			}
		default: // Auto: rename, else in place
			if dirErr != nil && fileErr != nil {
				return fmt.Errorf("%s: neither the directory nor the file is writable: %w", f.Path, fileErr)
			}
		}
		return nil
	case !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	// A new file: the nearest existing ancestor must be a writable directory.
	for d := filepath.Dir(f.Path); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("%s: creating directory: %s is not a directory", f.Path, d)
			}
			if err := syscall.Access(d, wOK); err != nil {
				return fmt.Errorf("%s: directory %s not writable: %w", f.Path, d, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		if filepath.Dir(d) == d {
			return fmt.Errorf("%s: no existing directory above it", f.Path)
		}
	}
}

func prepareAll(files []File) ([]*plan, error) {
	plans := make([]*plan, len(files))
	var errs *multierror.Error
	seen := map[string]string{}
	for i, f := range files {
		p, err := prepare(f)
		plans[i] = p
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		// Two writes of one file in one set: the second would replace the
		// first, and a rollback could not restore what was there.
		if first, ok := seen[p.f.Path]; ok {
			errs = multierror.Append(errs, fmt.Errorf("%s: written twice in one set (also as %s)", p.name, first))
		}
		seen[p.f.Path] = p.name
	}
	if errs == nil {
		if err := syncTemps(plans); err != nil {
			errs = multierror.Append(errs, err)
		}
	}
	return plans, errs.ErrorOrNil()
}

func prepare(f File) (*plan, error) {
	p := &plan{f: f, name: f.Path, perm: f.Perm.Perm(), uid: -1, gid: -1}
	if f.Path == "" {
		return p, errors.New("empty destination path")
	}
	target, err := TargetWithin(f.Path, f.Within)
	if err != nil {
		return p, err
	}
	f.Path, p.f.Path = target, target
	dir := filepath.Dir(f.Path)
	fi, err := os.Stat(f.Path)
	switch {
	case err == nil:
		if !fi.Mode().IsRegular() {
			return p, fmt.Errorf("%s: destination is not a regular file", f.Path)
		}
		p.existed = true
		if f.KeepPerm {
			p.perm = fi.Mode().Perm()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
				p.uid, p.gid = int(st.Uid), int(st.Gid)
			}
		}
		if p.old, err = os.ReadFile(f.Path); err != nil {
			return p, fmt.Errorf("%s: reading current content: %w", f.Path, err)
		}
		if bytes.Equal(p.old, f.Data) && fi.Mode().Perm() == p.perm {
			p.method = Rename
			p.done = true // nothing to do
			return p, nil
		}
	case errors.Is(err, os.ErrNotExist):
		if p.dirsMade, err = mkdirAll(dir); err != nil {
			return p, fmt.Errorf("%s: creating directory: %w", f.Path, err)
		}
	default:
		return p, fmt.Errorf("%s: %w", f.Path, err)
	}

	if f.Mode != InPlace {
		tmp, err := writeTemp(dir, filepath.Base(f.Path), f.Data, p.perm, p.uid, p.gid)
		if err == nil {
			p.tmp = tmp
			return p, nil
		}
		// Only a directory that refuses new files makes in place the way out;
		// a full disk or a file-size limit would fail in place too, after
		// truncating the destination.
		if f.Mode == Rename || !p.existed || !DirRefuses(err) {
			return p, fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	// In place: the destination (or its directory, for a new file) must be writable.
	p.inPlace = true
	if p.existed {
		fh, err := os.OpenFile(f.Path, os.O_WRONLY, 0)
		if err != nil {
			return p, fmt.Errorf("%s: not writable in place: %w", f.Path, err)
		}
		fh.Close()
	} else if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return p, fmt.Errorf("%s: directory not writable: %w", f.Path, err)
	}
	return p, nil
}

// mkdirAll creates dir and its missing parents, returning those it created,
// outermost first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		missing = append([]string{d}, missing...)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return missing[:i], err
		}
	}
	return missing, nil
}

func writeTemp(dir, base string, data []byte, perm os.FileMode, uid, gid int) (string, error) {
	fh, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("creating temporary file: %w", err)
	}
	name := fh.Name()
	err = func() error {
		if err := fh.Chmod(perm); err != nil {
			return err
		}
		if uid >= 0 {
			if err := fh.Chown(uid, gid); err != nil {
				return err
			}
		}
		_, err := fh.Write(data)
		return err // synced by syncTemps, all at once
	}()
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("writing temporary file: %w", err)
	}
	return name, nil
}

// maxParallelSyncs bounds the fsyncs syncTemps runs at once.
const maxParallelSyncs = 16

// syncTemps fsyncs every temporary file of plans, in parallel: on a
// journaling filesystem concurrent fsyncs share journal commits, so ten files
// cost about one commit instead of ten in a row.
func syncTemps(plans []*plan) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs *multierror.Error
		sem  = make(chan struct{}, maxParallelSyncs)
	)
	for _, p := range plans {
		if p == nil || p.tmp == "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() { // owned by syncTemps: it waits for every one
			defer wg.Done()
			defer func() { <-sem }()
			fh, err := os.Open(p.tmp)
			if err == nil {
				err = fh.Sync()
				fh.Close()
			}
			if err != nil {
				mu.Lock()
				errs = multierror.Append(errs, fmt.Errorf("%s: syncing temporary file: %w", p.f.Path, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs.ErrorOrNil()
}

func commit(p *plan) error {
	if p.done {
		return nil
	}
	if !p.inPlace {
		if p.existed {
			// Keep the old inode reachable so a later failure can restore it.
			bk := p.tmp + ".bak"
			if os.Link(p.f.Path, bk) == nil {
				p.backup = bk
			}
		}
		err := os.Rename(p.tmp, p.f.Path)
		if err == nil {
			p.tmp, p.done, p.method, p.changed = "", true, Rename, true
			return nil
		}
		if p.f.Mode == Rename || !p.existed || !(errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)) {
			return fmt.Errorf("%s: renaming into place: %w", p.f.Path, err)
		}
		if p.backup != "" {
			os.Remove(p.backup)
			p.backup = ""
		}
		os.Remove(p.tmp)
		p.tmp = ""
	}
	// Marked changed before writing: a write that fails after truncating the
	// file is rolled back to the old content like any other.
	p.changed = true
	if err := writeInPlace(p.f.Path, p.f.Data, p.perm, !p.existed || !p.f.KeepPerm); err != nil {
		return fmt.Errorf("%s: writing in place: %w", p.f.Path, err)
	}
	p.done, p.method = true, InPlace
	return nil
}

// DirRefuses reports whether a write error says the place does not accept
// writes (permissions, a read-only mount), as opposed to the data not fitting.
func DirRefuses(err error) bool {
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EROFS)
}

func writeInPlace(path string, data []byte, perm os.FileMode, setPerm bool) error {
	// path is Target's, judged already: a link there now was made since,
	// and is not followed (ELOOP) to a file nobody judged.
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return err
	}
	err = func() error {
		if setPerm {
			if err := fh.Chmod(perm); err != nil {
				return err
			}
		}
		if _, err := fh.Write(data); err != nil {
			return err
		}
		return fh.Sync()
	}()
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// rollback restores every committed destination to what it was.
func rollback(plans []*plan) {
	for _, p := range plans {
		if p == nil || !p.changed {
			continue
		}
		switch {
		case !p.existed:
			os.Remove(p.f.Path)
		case p.backup != "":
			if os.Rename(p.backup, p.f.Path) == nil {
				p.backup = ""
			}
		default:
			_ = writeInPlace(p.f.Path, p.old, p.perm, false)
		}
	}
}

// cleanup removes temporary files, backups and directories this write created.
func cleanup(plans []*plan) {
	for i := len(plans) - 1; i >= 0; i-- {
		p := plans[i]
		if p == nil {
			continue
		}
		if p.tmp != "" {
			os.Remove(p.tmp)
		}
		if p.backup != "" {
			os.Remove(p.backup)
		}
		for j := len(p.dirsMade) - 1; j >= 0; j-- {
			os.Remove(p.dirsMade[j]) // only succeeds when empty
		}
	}
}

func syncDirs(plans []*plan) {
	seen := map[string]bool{}
	for _, p := range plans {
		dir := filepath.Dir(p.f.Path)
		if seen[dir] || !p.changed || p.method != Rename {
			continue
		}
		seen[dir] = true
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
}

// maxLinks is how many symbolic links Target follows, as Linux's
// MAXSYMLINKS (40) before ELOOP.
const maxLinks = 40

// Target returns the file a write to path changes: path with every
// symbolic link among its existing components resolved, the last one
// included, as open(2) follows them: component by component, so a ".."
// after a link goes up from where the link leads, not from the link. A
// link whose target does not exist yet leads to that target (writing
// creates it, as `echo > link` does); components that do not exist are
// kept as they are (the write creates them as directories).
//
// WriteAll writes Target(path), so a destination that is a symbolic link
// keeps being one and the file it points to gets the new content, as with
// an in-place write (the DC/OS SDK bootstrap's ioutil.WriteFile); a
// rename over the link itself would replace the link by a regular file
// and leave its target stale.
func Target(path string) (string, error) {
	if path == "" {
		return "", errors.New("empty destination path")
	}
	cur := "." // resolved so far: no links in it, so its ".." is lexical
	if filepath.IsAbs(path) {
		cur = string(filepath.Separator)
	}
	rest := splitPath(path)
	missing := false // a component does not exist: the rest is kept as is
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case ".":
			continue
		case "..":
			cur = filepath.Join(cur, "..")
			continue
		}
		next := filepath.Join(cur, c)
		if missing {
			cur = next
			continue
		}
		fi, err := os.Lstat(next)
		switch {
		case err != nil && (errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)):
			missing, cur = true, next
			continue
		case err != nil:
			return "", fmt.Errorf("%s: %w", path, err)
		case fi.Mode()&os.ModeSymlink == 0:
			cur = next
			continue
		}
		if hops++; hops > maxLinks {
			return "", fmt.Errorf("%s: %w", path, syscall.ELOOP)
		}
		link, err := os.Readlink(next)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		if filepath.IsAbs(link) {
			cur = string(filepath.Separator)
		}
		rest = append(splitPath(link), rest...)
	}
	return cur, nil
}

// splitPath returns the components of p, "." and ".." included, empty ones
// (from repeated or trailing separators) left out.
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, string(filepath.Separator)) {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// OutsideError says that the file a write to Path changes, Target, lies
// outside the directory Within it must stay in.
type OutsideError struct {
	Path, Target, Within string
}

func (e *OutsideError) Error() string {
	return fmt.Sprintf("%s: a symbolic link leads it to %s, outside %s", e.Path, e.Target, e.Within)
}

// TargetWithin returns Target(path), or an *OutsideError when that lies
// outside Target(dir) (dir's own links resolved as well, whether it exists
// yet or not). An empty dir allows anywhere.
func TargetWithin(path, dir string) (string, error) {
	target, err := Target(path)
	if err != nil || dir == "" {
		return target, err
	}
	// Resolved as the file is: dir may not exist yet (a write creates
	// it) and still lie under a linked directory.
	root, rerr := Target(dir)
	if rerr != nil {
		return "", fmt.Errorf("%s: %w", dir, rerr)
	}
	if rel, rerr := filepath.Rel(root, target); rerr != nil || !filepath.IsLocal(rel) {
		return "", &OutsideError{Path: path, Target: target, Within: dir}
	}
	return target, nil
}
