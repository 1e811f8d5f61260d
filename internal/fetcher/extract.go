package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/taskkit/taskkit/internal/fetcher/sandboxpath"
	"github.com/ulikunitz/xz"
)

// archiveSuffixes are the names Mesos' fetcher extracts as archives
// (src/launcher/fetcher.cpp, extract()), matched as it matches them: by
// suffix, case-sensitive (APP.TGZ is fetched, not extracted). A name
// ending in ".gz" but none of these is a single gzip'd file, decompressed
// into the sandbox without its ".gz" (Mesos runs gunzip -d -c).
var archiveSuffixes = []string{".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"}

// extract unpacks the archive name (under root, the sandbox) into root
// when its name says it is one (archiveSuffixes, or ".gz"); other files are
// left alone. As in Mesos, the archive is unpacked into the sandbox even
// when output_file put it in a subdirectory, and a .gz file is
// decompressed there too. The name says whether to extract, the content
// how, as libarchive, which Mesos extracts with, reads any archive it
// knows whatever its name: a gzip, bzip2 or xz stream holds a tar, a file
// starting "PK" (or any file named .zip) is a zip, anything else a plain
// tar. Every entry is written through root.
//
// When ctx ends, extraction stops at once (ctx is checked between entries
// and before every read of an entry's content) and extract returns ctx's
// error, wrapped; the entry it was writing is removed, the entries before
// it stay whole (see the package documentation).
func extract(ctx context.Context, root *os.Root, name string) error {
	archive := slices.ContainsFunc(archiveSuffixes, func(s string) bool { return strings.HasSuffix(name, s) })
	if !archive && !strings.HasSuffix(name, ".gz") {
		return nil
	}
	fh, err := root.Open(name)
	if err != nil {
		return err
	}
	defer fh.Close()
	if !archive { // a single gzip'd file
		gz, err := gzip.NewReader(fh)
		if err != nil {
			return err
		}
		defer gz.Close()
		base := path.Base(name)
		return writeFile(root, base[:len(base)-len(".gz")], ctxReader{ctx, gz}, 0o644)
	}
	var magic [6]byte
	n, err := fh.ReadAt(magic[:], 0)
	if err != nil && err != io.EOF {
		return err
	}
	switch head := magic[:n]; {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}): // RFC 1952
		gz, err := gzip.NewReader(fh)
		if err != nil {
			return err
		}
		defer gz.Close()
		return untar(ctx, root, gz)
	case bytes.HasPrefix(head, []byte("BZh")):
		return untar(ctx, root, bzip2.NewReader(fh))
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}): // the xz file format, 2.1.1.1
		xr, err := xz.NewReader(bufio.NewReader(fh))
		if err != nil {
			return err
		}
		return untar(ctx, root, xr)
	case bytes.HasPrefix(head, []byte("PK")), strings.HasSuffix(name, ".zip"):
		st, err := fh.Stat()
		if err != nil {
			return err
		}
		return unzip(ctx, root, fh, st.Size())
	}
	return untar(ctx, root, fh)
}

// entry is one archive member, in the terms both formats share.
type entry struct {
	name string // as in the archive
	kind entryKind
	link string      // symlink target or hard link source
	perm fs.FileMode // permission bits of a file
	body io.Reader   // a file's content
}

type entryKind int

const (
	kindDir entryKind = iota
	kindFile
	kindSymlink
	kindHardlink
	kindSkip
)

func untar(ctx context.Context, dir *os.Root, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		e := entry{name: h.Name, perm: fs.FileMode(h.Mode).Perm(), body: ctxReader{ctx, tr}, link: h.Linkname}
		switch h.Typeflag {
		case tar.TypeDir:
			e.kind = kindDir
		case tar.TypeReg, tar.TypeRegA:
			e.kind = kindFile
		case tar.TypeSymlink:
			e.kind = kindSymlink
		case tar.TypeLink:
			e.kind = kindHardlink
		default: // devices, FIFOs, global headers
			e.kind = kindSkip
		}
		if err := put(dir, e); err != nil {
			return err
		}
	}
}

func unzip(ctx context.Context, dir *os.Root, r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return err
	}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := entry{name: f.Name, perm: f.Mode().Perm()}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			e.kind = kindDir
		case mode&fs.ModeSymlink != 0:
			e.kind = kindSymlink
		case mode.IsRegular():
			e.kind = kindFile
		default:
			e.kind = kindSkip
		}
		var rc io.ReadCloser
		if e.kind == kindFile || e.kind == kindSymlink {
			if rc, err = f.Open(); err != nil {
				return fmt.Errorf("entry %q: %w", f.Name, err)
			}
			e.body = ctxReader{ctx, rc}
			if e.kind == kindSymlink { // a zip keeps the target as the content
				b, err := io.ReadAll(io.LimitReader(rc, 4096))
				if err != nil {
					rc.Close()
					return fmt.Errorf("entry %q: %w", f.Name, err)
				}
				e.link = string(b)
			}
		}
		err = put(dir, e)
		if rc != nil {
			rc.Close()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// put writes one entry under dir, after checking that it stays inside.
func put(dir *os.Root, e entry) error {
	if e.kind == kindSkip {
		return nil
	}
	name, err := sandboxpath.Confined(strings.TrimPrefix(e.name, "./"))
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.name, err)
	}
	if name == "." {
		return nil // the directory itself
	}
	if e.kind == kindDir {
		return dir.MkdirAll(name, 0o755)
	}
	if parent := path.Dir(name); parent != "." {
		if err := dir.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("entry %q: %w", e.name, err)
		}
	}
	switch e.kind {
	case kindSymlink:
		if _, err := sandboxpath.Confined(path.Join(path.Dir(name), e.link)); err != nil || path.IsAbs(e.link) {
			return fmt.Errorf("entry %q: symbolic link to %q points %w", e.name, e.link, ErrOutside)
		}
		if err := climbsOut(dir, path.Dir(name), e.link); err != nil {
			return fmt.Errorf("entry %q: symbolic link to %q: %w", e.name, e.link, err)
		}
	case kindHardlink:
		if _, err := sandboxpath.Confined(e.link); err != nil {
			return fmt.Errorf("entry %q: hard link to %q: %w", e.name, e.link, err)
		}
		// A hard link to a symbolic link is that link again, somewhere
		// else: its target must stay inside from there too.
		if fi, err := dir.Lstat(path.Clean(e.link)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			target, err := dir.Readlink(path.Clean(e.link))
			if err == nil {
				err = climbsOut(dir, path.Dir(name), target)
			}
			if err != nil {
				return fmt.Errorf("entry %q: hard link to the symbolic link %q: %w", e.name, e.link, err)
			}
		}
	}
	// A later entry replaces an earlier one of the same name: remove it
	// first (a link is removed, not followed), then create afresh.
	if err := dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("entry %q: replacing an earlier entry: %w", e.name, err)
	}
	switch e.kind {
	case kindSymlink:
		err = dir.Symlink(e.link, name)
	case kindHardlink:
		err = dir.Link(path.Clean(e.link), name)
	default:
		err = createFile(dir, name, e.body, e.perm)
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.name, err)
	}
	return nil
}

// createFile creates name (which must not exist) with the content of r;
// when r fails (ctx ended, a corrupt archive), the part written is removed.
func createFile(dir *os.Root, name string, r io.Reader, perm fs.FileMode) error {
	if perm == 0 {
		perm = 0o644
	}
	out, err := dir.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	// Through a plain Writer: *os.File's ReadFrom would allocate a buffer
	// of its own for every entry.
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, r, *buf); err != nil {
		out.Close()
		_ = dir.Remove(name) // the error is the copy's; what is left of name is a part
		return err
	}
	return out.Close()
}

// copyBuffers hold the 32 KiB buffers createFile copies entries through:
// one per extraction at a time, not one per entry (an archive of many
// small files allocated 32 KiB each, 32 MiB for a 1 MiB tar of 1,024).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// climbsOut fails, wrapping ErrOutside, when a symbolic link with the
// relative target, made in directory parent under dir, could resolve
// outside dir. Its name alone cannot tell: parent may be reached through
// symbolic links that make it shallower than its name (with a -> ".",
// a/l -> ".." is the directory's parent), and components of the target
// may become symbolic links later ("x/../.." climbs from wherever x
// leads). So a target may climb ("..") only before its first other
// component, and no more levels than parent really is below dir.
func climbsOut(dir *os.Root, parent, target string) error {
	ups, descended := 0, false
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
		case "..":
			if descended {
				return fmt.Errorf("climbs (\"..\") after descending, so where it leads depends on other links: %w", ErrOutside)
			}
			ups++
		default:
			descended = true
		}
	}
	if ups == 0 {
		return nil
	}
	if depth := realDepth(dir, parent); ups > depth {
		return fmt.Errorf("climbs %d levels from a directory %d below the archive's: %w", ups, depth, ErrOutside)
	}
	return nil
}

// realDepth is how many levels below dir's own directory the directory
// parent (under dir) really is, symbolic links followed, as the kernel
// names both (/proc/self/fd). When that cannot be told it is 0, so that
// no climbing link is made.
func realDepth(dir *os.Root, parent string) int {
	real := func(name string) string {
		f, err := dir.Open(name)
		if err != nil {
			return ""
		}
		defer f.Close()
		p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		if err != nil {
			return ""
		}
		return p
	}
	top, p := real("."), real(parent)
	rel, err := filepath.Rel(top, p)
	if top == "" || p == "" || err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return 0
	}
	return strings.Count(rel, "/") + 1
}
