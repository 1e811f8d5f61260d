package fetcher

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
)

// extract unpacks the archive name (under root) into its own directory when
// its name says it is one; other files are left alone. Every entry is
// written through an os.Root opened on that directory.
func extract(root *os.Root, name string) error {
	lower := strings.ToLower(name)
	kind := ""
	switch {
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		kind = "tar.gz"
	case strings.HasSuffix(lower, ".tar.bz2"), strings.HasSuffix(lower, ".tbz2"):
		kind = "tar.bz2"
	case strings.HasSuffix(lower, ".tar"):
		kind = "tar"
	case strings.HasSuffix(lower, ".zip"):
		kind = "zip"
	case strings.HasSuffix(lower, ".gz"):
		kind = "gz"
	default:
		return nil
	}
	dir, err := root.OpenRoot(path.Dir(name))
	if err != nil {
		return err
	}
	defer dir.Close()
	fh, err := root.Open(name)
	if err != nil {
		return err
	}
	defer fh.Close()
	switch kind {
	case "tar.gz", "gz":
		gz, err := gzip.NewReader(fh)
		if err != nil {
			return err
		}
		defer gz.Close()
		if kind == "gz" {
			base := path.Base(name)
			return writeFile(dir, base[:len(base)-len(".gz")], gz, 0o644)
		}
		return untar(dir, gz)
	case "tar.bz2":
		return untar(dir, bzip2.NewReader(fh))
	case "tar":
		return untar(dir, fh)
	}
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	return unzip(dir, fh, st.Size())
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

func untar(dir *os.Root, r io.Reader) error {
	tr := tar.NewReader(r)
	var links []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return checkLinks(dir, links)
		}
		if err != nil {
			return err
		}
		e := entry{name: h.Name, perm: fs.FileMode(h.Mode).Perm(), body: tr, link: h.Linkname}
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
		name, err := put(dir, e)
		if err != nil {
			return err
		}
		if e.kind == kindSymlink || e.kind == kindHardlink {
			links = append(links, name)
		}
	}
}

func unzip(dir *os.Root, r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return err
	}
	var links []string
	for _, f := range zr.File {
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
			e.body = rc
			if e.kind == kindSymlink { // a zip keeps the target as the content
				b, err := io.ReadAll(io.LimitReader(rc, 4096))
				if err != nil {
					rc.Close()
					return fmt.Errorf("entry %q: %w", f.Name, err)
				}
				e.link = string(b)
			}
		}
		name, err := put(dir, e)
		if rc != nil {
			rc.Close()
		}
		if err != nil {
			return err
		}
		if e.kind == kindSymlink {
			links = append(links, name)
		}
	}
	return checkLinks(dir, links)
}

// put writes one entry under dir, after checking that its name and link
// text stay inside, and returns its cleaned name.
func put(dir *os.Root, e entry) (string, error) {
	if e.kind == kindSkip {
		return "", nil
	}
	name, err := confined(strings.TrimPrefix(e.name, "./"))
	if err != nil {
		return "", fmt.Errorf("entry %q: %w", e.name, err)
	}
	if name == "." {
		return name, nil // the directory itself
	}
	if e.kind == kindDir {
		return name, dir.MkdirAll(name, 0o755)
	}
	if parent := path.Dir(name); parent != "." {
		if err := dir.MkdirAll(parent, 0o755); err != nil {
			return "", fmt.Errorf("entry %q: %w", e.name, err)
		}
	}
	switch e.kind {
	case kindSymlink:
		if _, err := confined(path.Join(path.Dir(name), e.link)); err != nil || path.IsAbs(e.link) {
			return "", fmt.Errorf("entry %q: symbolic link to %q points %w", e.name, e.link, ErrOutside)
		}
	case kindHardlink:
		if _, err := confined(e.link); err != nil {
			return "", fmt.Errorf("entry %q: hard link to %q: %w", e.name, e.link, err)
		}
	}
	// A later entry replaces an earlier one of the same name: remove it
	// first (a link is removed, not followed), then create afresh.
	if err := dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("entry %q: replacing an earlier entry: %w", e.name, err)
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
		return "", fmt.Errorf("entry %q: %w", e.name, err)
	}
	return name, nil
}

// maxLinks is how many symbolic links one resolution follows, as Linux's
// MAXSYMLINKS (40).
const maxLinks = 40

// checkLinks resolves each link an archive created, once every entry is
// written, as the kernel would: a link's text can stay inside when read
// alone ("d/y -> x/..") yet lead out through another link ("d/x -> .."),
// whatever the order the entries came in, and a hard link to a symbolic link
// gives the same text a new starting directory. A link that resolves outside
// dir is removed and fails the extraction, wrapping ErrOutside.
func checkLinks(dir *os.Root, names []string) error {
	for _, name := range names {
		if err := resolvesInside(dir, name); err != nil {
			dir.Remove(name)
			return fmt.Errorf("entry %q: %w", name, err)
		}
	}
	return nil
}

// resolvesInside follows name from dir component by component, reading each
// symbolic link through dir, and fails wrapping ErrOutside when the walk
// leaves dir. A missing component ends the following of links: the rest is
// read as text. Like the kernel, it gives up after maxLinks links (a loop),
// which cannot lead anywhere.
func resolvesInside(dir *os.Root, name string) error {
	var at []string // the components resolved so far, none a link
	todo := strings.Split(name, "/")
	for followed := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(at) == 0 {
				return fmt.Errorf("resolves through links to a path that leaves the directory: %w", ErrOutside)
			}
			at = at[:len(at)-1]
			continue
		}
		p := path.Join(append(at, c)...)
		fi, err := dir.Lstat(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return err
		}
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			at = append(at, c)
			continue
		}
		if followed++; followed > maxLinks {
			return nil // the kernel stops here too (ELOOP): it leads nowhere
		}
		target, err := dir.Readlink(p)
		if err != nil {
			return err
		}
		if path.IsAbs(target) {
			return fmt.Errorf("resolves through %q to the absolute path %q: %w", p, target, ErrOutside)
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return nil
}

// createFile creates name (which must not exist) with the content of r.
func createFile(dir *os.Root, name string, r io.Reader, perm fs.FileMode) error {
	if perm == 0 {
		perm = 0o644
	}
	out, err := dir.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
