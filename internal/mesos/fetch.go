package mesos

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/redact"
)

// Fetcher puts CommandInfo URIs into a sandbox the way the Mesos fetcher
// does:
//
//   - http://, https:// and file:// URIs, and absolute local paths;
//   - the file is named after the URI's last path element, or output_file
//     (relative to the sandbox, subdirectories created);
//   - executable: chmod 0755 and never extracted;
//   - extract (default true): .tar, .tar.gz, .tgz, .tar.bz2, .tbz2 and .zip
//     archives are unpacked into the directory holding the file, .gz files
//     are decompressed next to it; the archive itself is kept;
//   - cache: with a CacheDir, a URI with cache=true (or every remote URI when
//     CacheAll is set) is downloaded once and hard-linked (copied across
//     filesystems) from the cache after. Downloads land in the cache by
//     rename, so fetchers in several processes can share one CacheDir.
//
// The zero value works without a cache. A Fetcher is safe for concurrent use.
type Fetcher struct {
	// CacheDir holds cached downloads; empty disables caching.
	CacheDir string
	// CacheAll caches every http(s) URI, not only those with cache=true.
	CacheAll bool
	// Client downloads http(s) URIs; nil means a client with a 5 minute timeout.
	Client *http.Client

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Fetch fetches every URI into sandbox, in order, and stops at the first
// failure. Each error names the URI.
func (f *Fetcher) Fetch(ctx context.Context, uris []mesos.CommandInfo_URI, sandbox string) error {
	for _, u := range uris {
		if _, err := f.FetchOne(ctx, u, sandbox); err != nil {
			return err
		}
	}
	return nil
}

// FetchOne fetches one URI into sandbox and returns the path of the fetched
// file.
func (f *Fetcher) FetchOne(ctx context.Context, u mesos.CommandInfo_URI, sandbox string) (string, error) {
	dest, err := destination(u, sandbox)
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", redact.Credentials(u.Value), err)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("fetching %q: %w", redact.Credentials(u.Value), err)
	}
	if err := f.fetchTo(ctx, u, dest); err != nil {
		return "", fmt.Errorf("fetching %q: %w", redact.Credentials(u.Value), err)
	}
	if u.GetExecutable() {
		if err := os.Chmod(dest, 0o755); err != nil {
			return "", fmt.Errorf("fetching %q: %w", redact.Credentials(u.Value), err)
		}
		return dest, nil
	}
	if u.Extract == nil || *u.Extract {
		if err := extract(dest); err != nil {
			return "", fmt.Errorf("extracting %q: %w", redact.Credentials(u.Value), err)
		}
	}
	return dest, nil
}

func destination(u mesos.CommandInfo_URI, sandbox string) (string, error) {
	name := u.GetOutputFile()
	if name == "" {
		p := u.Value
		if pu, err := url.Parse(u.Value); err == nil && pu.Scheme != "" {
			p = pu.Path
		}
		name = path.Base(p)
		if name == "." || name == "/" || name == "" {
			return "", errors.New("URI has no file name; set output_file")
		}
	}
	if filepath.IsAbs(name) {
		return name, nil
	}
	dest := filepath.Join(sandbox, name)
	if !within(sandbox, dest) {
		return "", fmt.Errorf("output_file %q leaves the sandbox", name)
	}
	return dest, nil
}

func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func (f *Fetcher) fetchTo(ctx context.Context, u mesos.CommandInfo_URI, dest string) error {
	pu, err := url.Parse(u.Value)
	remote := err == nil && (pu.Scheme == "http" || pu.Scheme == "https")
	switch {
	case remote:
		if f.CacheDir != "" && (u.GetCache() || f.CacheAll) {
			cached, err := f.cached(ctx, u.Value)
			if err != nil {
				return err
			}
			return linkOrCopy(cached, dest)
		}
		return f.download(ctx, u.Value, dest)
	case err == nil && pu.Scheme == "file":
		return copyFile(pu.Path, dest)
	case filepath.IsAbs(u.Value):
		return copyFile(u.Value, dest)
	case err == nil && pu.Scheme != "":
		return fmt.Errorf("unsupported URI scheme %q (want http, https, file or an absolute path)", pu.Scheme)
	default:
		return errors.New("relative local paths are not supported (use an absolute path or file://)")
	}
}

func (f *Fetcher) cached(ctx context.Context, uri string) (string, error) {
	sum := sha256.Sum256([]byte(uri))
	key := hex.EncodeToString(sum[:16])
	f.mu.Lock()
	if f.locks == nil {
		f.locks = map[string]*sync.Mutex{}
	}
	l := f.locks[key]
	if l == nil {
		l = &sync.Mutex{}
		f.locks[key] = l
	}
	f.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	p := filepath.Join(f.CacheDir, key)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(f.CacheDir, 0o755); err != nil {
		return "", err
	}
	if err := f.download(ctx, uri, p); err != nil {
		return "", err
	}
	return p, nil
}

func (f *Fetcher) download(ctx context.Context, uri, dest string) error {
	c := f.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return err
	}
	res, err := c.Do(req)
	if err != nil {
		// A *url.Error repeats the URL, password included; the caller names
		// the URI with its password masked.
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", res.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".fetch-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, res.Body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}

// linkOrCopy hard-links a cache entry into a sandbox — what makes a cache
// of multi-megabyte binaries cheap for hundreds of pods — and copies it when
// the two are on different filesystems. Cache entries are never written
// after they are complete, so sharing the inode is safe as long as tasks
// treat fetched files as read-only (documented in docs/testenv.md).
func linkOrCopy(src, dest string) error {
	tmp := dest + ".link-tmp"
	os.Remove(tmp)
	if err := os.Link(src, tmp); err == nil {
		if err := os.Rename(tmp, dest); err != nil {
			os.Remove(tmp)
			return err
		}
		return nil
	}
	return copyFile(src, dest)
}

func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", src)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".fetch-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), st.Mode().Perm()|0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}

// extract unpacks an archive into its directory when its name says it is
// one; other files are left alone.
func extract(p string) error {
	dir := filepath.Dir(p)
	lower := strings.ToLower(p)
	switch {
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return untar(p, dir, "gz")
	case strings.HasSuffix(lower, ".tar.bz2"), strings.HasSuffix(lower, ".tbz2"):
		return untar(p, dir, "bz2")
	case strings.HasSuffix(lower, ".tar"):
		return untar(p, dir, "")
	case strings.HasSuffix(lower, ".zip"):
		return unzip(p, dir)
	case strings.HasSuffix(lower, ".gz"):
		return gunzip(p, strings.TrimSuffix(p, filepath.Ext(p)))
	}
	return nil
}

func untar(p, dir, comp string) error {
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	var r io.Reader = fh
	switch comp {
	case "gz":
		gz, err := gzip.NewReader(fh)
		if err != nil {
			return err
		}
		defer gz.Close()
		r = gz
	case "bz2":
		r = bzip2.NewReader(fh)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, h.Name)
		if !within(dir, target) {
			return fmt.Errorf("archive entry %q leaves the directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeEntry(target, tr, os.FileMode(h.Mode).Perm()); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			_ = os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
}

func unzip(p, dir string) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, f := range zr.File {
		target := filepath.Join(dir, f.Name)
		if !within(dir, target) {
			return fmt.Errorf("archive entry %q leaves the directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		err = writeEntry(target, rc, f.Mode().Perm())
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func gunzip(p, dest string) error {
	fh, err := os.Open(p)
	if err != nil {
		return err
	}
	defer fh.Close()
	gz, err := gzip.NewReader(fh)
	if err != nil {
		return err
	}
	defer gz.Close()
	return writeEntry(dest, gz, 0o644)
}

func writeEntry(target string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if perm == 0 {
		perm = 0o644
	}
	_ = os.Remove(target)
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
