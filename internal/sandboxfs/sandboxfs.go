// Package sandboxfs creates, opens and links files in a directory that a
// task controls — a Mesos sandbox (an executor's or a task's) or a
// persistent volume — without following a symbolic link the task may have
// put there. A task owns its sandbox: it can replace `stdout` with a link to
// any file (`ln -sf /etc/important stdout`) or a directory with a link to
// any other, and the executor or agent that opens the file by path when the
// task (or another of its pod, or its executor) is launched again in the
// same sandbox would then append to, truncate or create that file outside
// the sandbox.
//
// A Dir is an open directory; every path given to its methods is relative
// to it and is resolved one element at a time with openat(2) and
// O_NOFOLLOW|O_DIRECTORY, so neither the last element nor a directory on
// the way can be a symbolic link, and a link planted after the Dir was
// opened cannot redirect it. Where Go's os.Root confines paths to a
// directory but still follows links inside it, a Dir follows none: a link
// is refused with an error that names the file and wraps ErrSymlink.
// OpenFile also refuses anything but a regular file with a single link (a
// FIFO would block the opener, a hard link would let a write land in a
// file outside), wrapping ErrNotRegular, and truncates (O_TRUNC) only
// after that check.
//
// Linux only: FDPath names an open Dir through /proc/self/fd for APIs that
// take a path (the fetcher).
package sandboxfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrSymlink is wrapped by the error for a path element that is a
// symbolic link (never followed).
var ErrSymlink = errors.New("is a symbolic link, which is not followed in a sandbox")

// ErrNotRegular is wrapped by OpenFile's error for a file that is not a
// regular file with a single (hard) link.
var ErrNotRegular = errors.New("is not a regular file with a single link")

// Dir is an open directory. Its zero value is not usable; get one from
// Open, MkdirAll or OpenDir, and Close it.
type Dir struct {
	f *os.File
}

// Open opens the directory at path, which the caller trusts (links in it
// are followed: the agent's work directory, the sandbox the agent gave an
// executor). Everything below it is then reached through the Dir.
func Open(path string) (*Dir, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	return &Dir{f: f}, nil
}

// Name is the path the Dir was opened at (its parent's name joined with
// the relative path for a Dir from MkdirAll or OpenDir).
func (d *Dir) Name() string { return d.f.Name() }

// FDPath is a path that names this very directory while d is open
// (/proc/self/fd/N): a path-taking API given it reaches the directory d
// holds even if a link has replaced d's Name since. It means nothing to a
// user: what errors and logs show must name the directory by Name (or, as
// the fetcher does, by the path the kernel gives the descriptor).
func (d *Dir) FDPath() string { return fmt.Sprintf("/proc/self/fd/%d", d.f.Fd()) }

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

// MkdirAll creates the directories of rel (slash-separated, relative) that
// do not exist, with mode perm (before umask), and opens the last. An
// element that exists must be a directory, not a link to one.
func (d *Dir) MkdirAll(rel string, perm os.FileMode) (*Dir, error) {
	return d.walk(rel, true, perm)
}

// OpenDir opens the directory rel (slash-separated, relative) under d.
func (d *Dir) OpenDir(rel string) (*Dir, error) { return d.walk(rel, false, 0) }

// OpenFile opens the regular file rel under d as os.OpenFile does, never
// through a symbolic link; the file must be a regular file with a single
// link. O_TRUNC truncates it only once that is checked.
func (d *Dir) OpenFile(rel string, flag int, perm os.FileMode) (*os.File, error) {
	parent, base, err := d.parent(rel)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	name := d.join(rel)
	// O_NONBLOCK: opening a FIFO must not wait for its reader.
	fd, err := openat(int(parent.f.Fd()), base, (flag&^os.O_TRUNC)|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, uint32(perm.Perm()))
	if err != nil {
		return nil, pathError("open", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, pathError("stat", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		f.Close()
		return nil, fmt.Errorf("%s %w", name, ErrNotRegular)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		f.Close()
		return nil, pathError("fcntl", name, err)
	}
	if flag&os.O_TRUNC != 0 {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// OpenStdio opens, creating them and appending, the stdout and stderr
// files of a Mesos sandbox (the layout of src/slave/paths.hpp), each never
// through a link: where an executor's or a task's process writes.
func (d *Dir) OpenStdio() (stdout, stderr *os.File, err error) {
	stdout, err = d.OpenFile("stdout", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	stderr, err = d.OpenFile("stderr", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		stdout.Close()
		return nil, nil, err
	}
	return stdout, stderr, nil
}

// Symlink creates rel under d as a symbolic link to target (which is not
// resolved: the link is the caller's to make).
func (d *Dir) Symlink(target, rel string) error {
	parent, base, err := d.parent(rel)
	if err != nil {
		return err
	}
	defer parent.Close()
	if err := unix.Symlinkat(target, int(parent.f.Fd()), base); err != nil {
		return &os.LinkError{Op: "symlink", Old: target, New: d.join(rel), Err: err}
	}
	return nil
}

// Readlink returns the target of the symbolic link rel under d.
func (d *Dir) Readlink(rel string) (string, error) {
	parent, base, err := d.parent(rel)
	if err != nil {
		return "", err
	}
	defer parent.Close()
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(int(parent.f.Fd()), base, buf)
		if err != nil {
			return "", pathError("readlink", d.join(rel), err)
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// Remove removes the file, link or empty directory rel under d (a link
// itself, never what it points to).
func (d *Dir) Remove(rel string) error {
	parent, base, err := d.parent(rel)
	if err != nil {
		return err
	}
	defer parent.Close()
	fd := int(parent.f.Fd())
	err = unix.Unlinkat(fd, base, 0)
	if err == unix.EISDIR || err == unix.EPERM {
		if derr := unix.Unlinkat(fd, base, unix.AT_REMOVEDIR); derr != unix.ENOTDIR {
			err = derr
		}
	}
	if err != nil {
		return pathError("remove", d.join(rel), err)
	}
	return nil
}

// Rename moves rel under d to newrel under to (d itself or another Dir),
// as rename(2) does: a link at rel is moved, not followed, and neither
// side's directories may be links.
func (d *Dir) Rename(rel string, to *Dir, newrel string) error {
	from, base, err := d.parent(rel)
	if err != nil {
		return err
	}
	defer from.Close()
	dest, newbase, err := to.parent(newrel)
	if err != nil {
		return err
	}
	defer dest.Close()
	if err := unix.Renameat(int(from.f.Fd()), base, int(dest.f.Fd()), newbase); err != nil {
		return &os.LinkError{Op: "rename", Old: d.join(rel), New: to.join(newrel), Err: err}
	}
	return nil
}

// parent opens the directory holding rel's last element, and returns that
// element.
func (d *Dir) parent(rel string) (*Dir, string, error) {
	elems, err := split(rel)
	if err != nil {
		return nil, "", err
	}
	if len(elems) == 0 {
		return nil, "", fmt.Errorf("%s: names the directory itself, not a file in it", d.join(rel))
	}
	p, err := d.walk(strings.Join(elems[:len(elems)-1], "/"), false, 0)
	if err != nil {
		return nil, "", err
	}
	return p, elems[len(elems)-1], nil
}

// walk opens rel under d one element at a time, creating missing ones when
// create is set.
func (d *Dir) walk(rel string, create bool, perm os.FileMode) (*Dir, error) {
	elems, err := split(rel)
	if err != nil {
		return nil, err
	}
	cur := int(d.f.Fd())
	name := d.Name()
	owned := -1 // cur when it is ours to close
	defer func() {
		if owned >= 0 {
			unix.Close(owned)
		}
	}()
	if len(elems) == 0 {
		fd, err := openat(cur, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, pathError("open", name, err)
		}
		return &Dir{f: os.NewFile(uintptr(fd), name)}, nil
	}
	for _, el := range elems {
		name = filepath.Join(name, el)
		if create {
			if err := unix.Mkdirat(cur, el, uint32(perm.Perm())); err != nil && err != unix.EEXIST {
				return nil, pathError("mkdir", name, err)
			}
		}
		fd, err := openat(cur, el, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOTDIR {
			// O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR, not ELOOP.
			var st unix.Stat_t
			if unix.Fstatat(cur, el, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		if err != nil {
			return nil, pathError("open", name, err)
		}
		if owned >= 0 {
			unix.Close(owned)
		}
		cur, owned = fd, fd
	}
	owned = -1
	return &Dir{f: os.NewFile(uintptr(cur), name)}, nil
}

// join is rel's path for errors.
func (d *Dir) join(rel string) string { return filepath.Join(d.Name(), filepath.FromSlash(rel)) }

// split checks that rel is relative and stays under its directory, and
// returns its elements ("." and empty ones dropped).
func split(rel string) ([]string, error) {
	if rel == "" || rel == "." {
		return nil, nil
	}
	if !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("%q: not a relative path inside the directory", rel)
	}
	var out []string
	for _, el := range strings.Split(filepath.Clean(rel), "/") {
		if el != "" && el != "." {
			out = append(out, el)
		}
	}
	return out, nil
}

// openat is openat(2), retried on EINTR.
func openat(dir int, name string, flag int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dir, name, flag, perm)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// pathError wraps err for name, saying so plainly when a symbolic link
// stopped it (ELOOP, from O_NOFOLLOW).
func pathError(op, name string, err error) error {
	if err == unix.ELOOP {
		return fmt.Errorf("%s %w", name, ErrSymlink)
	}
	return &os.PathError{Op: op, Path: name, Err: err}
}
