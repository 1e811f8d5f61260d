// Package fetcher puts CommandInfo URIs into a sandbox the way the Mesos
// fetcher does (src/launcher/fetcher.cpp, docs/fetcher.md): what testenv's
// agents, taskkit's executor and scheduler-lite's local mode run before a
// task starts.
//
//   - http://, https:// and file:// URIs, and absolute local paths;
//   - the file is named after the URI's last path element, or output_file
//     (relative to the sandbox, subdirectories created);
//   - executable: chmod 0755 and never extracted;
//   - extract (default true): a file named as Mesos' fetcher extracts
//     (.tar, .tgz, .tar.gz, .tbz2, .tar.bz2, .txz, .tar.xz, .zip; the
//     suffix matched case-sensitively, as Mesos does) is unpacked into the
//     sandbox, even when output_file put it in a subdirectory; its content
//     picks the format (gzip, bzip2 or xz compressed tar, zip, plain tar),
//     as libarchive's detection does for Mesos. Any other .gz file is
//     decompressed into the sandbox (Mesos runs gunzip). The archive itself
//     is kept. An xz stream's dictionary (8 MiB for xz -6, 64 MiB for -9)
//     is allocated whole while it is read;
//   - cache: with a CacheDir, a URI with cache=true (or every remote URI when
//     CacheAll is set) is downloaded once and hard-linked (copied across
//     filesystems) from the cache after. Downloads land in the cache by
//     rename, under an flock(2) per entry, so fetchers in several processes
//     can share one CacheDir and each entry is downloaded once. A fetcher
//     waiting for another's download of an entry waits for each holder of
//     the entry in turn, up to 5 min 10 s each (see lockEntry).
//     Mesos copies cache entries into sandboxes instead (fetcher.cpp,
//     fetchFromCache); a hard link shares the entry's inode with the task,
//     so an entry a task changed through its link is never handed out
//     again: see fromCache for what is checked and what is not.
//
// Confinement. Every write goes through an os.Root opened on the sandbox
// (the cache, the archive's directory), so no path — whatever symbolic links
// earlier URIs or archive entries created — can make the fetcher write
// outside it. On top of that, the fetch fails with an error wrapping
// ErrOutside, naming the URI and the entry, when:
//
//   - output_file is absolute or leaves the sandbox ("..");
//   - an archive entry's name is absolute or leaves the directory;
//   - a symbolic link entry points to an absolute path or out of the
//     directory, or a hard link entry names a file outside it. Where a
//     link leads depends on other links (with a -> ".", a/l -> ".." is the
//     directory's parent), so a link's target may climb ("..") only before
//     its other components, and no more levels than the link's directory
//     really is below the archive's; a hard link to a symbolic link is
//     checked as that link, in its new place.
//
// A later archive entry with the name of an earlier one replaces it (the
// earlier link or file is removed first, never written through). Device and
// FIFO entries are skipped. What was written inside the sandbox before a
// violation stays there; nothing is ever written outside. The file names
// and their confinement are package internal/fetcher/sandboxpath's.
//
// Cancellation. A fetch stops when its context ends, with the context's
// error wrapped: during a download, an extraction (between entries and
// inside an entry's content) and a local copy. An entry being extracted is
// removed, those before it stay whole; a downloaded or copied file is
// written under a temporary name and renamed only when whole. A cache
// entry is the downloaded file alone and is recorded once whole, never
// its extraction, so the next fetch of the URI links it and extracts it
// afresh.
package fetcher

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"golang.org/x/sys/unix"

	"github.com/taskkit/taskkit/internal/fetcher/sandboxpath"
	"github.com/taskkit/taskkit/internal/redact"
)

// ErrOutside is wrapped by the error of a fetch that would have written
// outside its sandbox (see the package documentation); it is
// sandboxpath.ErrOutside.
var ErrOutside = sandboxpath.ErrOutside

// Fetcher fetches URIs with the rules of the package documentation. The
// zero value works without a cache. A Fetcher is safe for concurrent use.
type Fetcher struct {
	// CacheDir holds cached downloads; empty disables caching.
	CacheDir string
	// CacheAll caches every http(s) URI, not only those with cache=true.
	CacheAll bool
	// Client downloads http(s) URIs; nil means a client with a 5 minute timeout.
	Client *http.Client
	// Logger receives the fetcher's warnings (a changed cache entry
	// discarded); nil means slog.Default().
	Logger *slog.Logger

	// lockWait is cacheLockWait unless a test sets it.
	lockWait time.Duration
}

// Fetch fetches every URI into sandbox, in order, and stops at the first
// failure. Each error names the URI, its credentials masked, and the file
// it was fetched into (see FetchOne).
func (f *Fetcher) Fetch(ctx context.Context, uris []mesos.CommandInfo_URI, sandbox string) error {
	for _, u := range uris {
		if _, err := f.FetchOne(ctx, u, sandbox); err != nil {
			return err
		}
	}
	return nil
}

// FetchOne fetches one URI into sandbox and returns the path of the fetched
// file. The error names the URI and the file in the sandbox, both with
// their credentials masked (redact.Credentials: the file's name comes from
// the URI and keeps its query when the URI does not parse), e.g.
// `fetching "http://h/x.tgz" into /sb/tasks/t1/x.tgz: HTTP 404 Not Found`.
//
// sandbox may be a directory held open and named through /proc/self/fd
// (sandboxfs.Dir.FDPath: the executor and testenv's agents fetch into
// a sandbox a task controls that way); such a path means nothing to a
// user, so the returned path and every error name the directory as the
// kernel does (its readlink), never /proc/self/fd.
func (f *Fetcher) FetchOne(ctx context.Context, u mesos.CommandInfo_URI, sandbox string) (string, error) {
	shown := shownDir(sandbox)
	name, err := sandboxpath.OutputName(u.Value, u.GetOutputFile())
	if err != nil {
		return "", fmt.Errorf("fetching %q: %w", redact.Credentials(u.Value), err)
	}
	dest := filepath.Join(shown, filepath.FromSlash(name))
	if err := f.fetchOne(ctx, u, sandbox, name); err != nil {
		return "", renamePath(fmt.Errorf("fetching %q into %s: %w", redact.Credentials(u.Value), redact.Credentials(dest), err), sandbox, shown)
	}
	return dest, nil
}

func (f *Fetcher) fetchOne(ctx context.Context, u mesos.CommandInfo_URI, sandbox, name string) error {
	root, err := os.OpenRoot(sandbox)
	if err != nil {
		return fmt.Errorf("opening the sandbox: %w", err)
	}
	defer root.Close()
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating its directory: %w", err)
		}
	}
	if err := f.fetchTo(ctx, u, root, name); err != nil {
		return err
	}
	if u.GetExecutable() {
		return root.Chmod(name, 0o755)
	}
	if u.Extract == nil || *u.Extract {
		if err := extract(ctx, root, name); err != nil {
			return fmt.Errorf("extracting: %w", err)
		}
	}
	return nil
}

// fdDirs starts the paths that name an open file descriptor.
const fdDirs = "/proc/self/fd/"

// shownDir is how errors and returned paths name the directory dir: dir,
// or for /proc/self/fd/N[/rest] the path the kernel gives descriptor N
// (joined with rest), or "the sandbox" when it cannot tell.
func shownDir(dir string) string {
	fd, rest, ok := splitFDPath(dir)
	if !ok {
		return dir
	}
	target, err := os.Readlink(fdDirs + fd)
	if err != nil || !filepath.IsAbs(target) {
		return "the sandbox"
	}
	return filepath.Join(target, rest)
}

// splitFDPath splits /proc/self/fd/N[/rest] into N and rest.
func splitFDPath(p string) (fd, rest string, ok bool) {
	after, found := strings.CutPrefix(p, fdDirs)
	if !found {
		return "", "", false
	}
	fd, rest, _ = strings.Cut(after, "/")
	if fd == "" || strings.Trim(fd, "0123456789") != "" {
		return "", "", false
	}
	return fd, rest, true
}

// renamePath returns err with every mention of the directory opened as
// from (a /proc/self/fd path) said as shown instead; errors.Is and As see
// err unchanged.
func renamePath(err error, from, shown string) error {
	if from == shown || !strings.Contains(err.Error(), from) {
		return err
	}
	return &renamedError{err: err, from: from, shown: shown}
}

// renamedError is an error whose text names a directory otherwise.
type renamedError struct {
	err         error
	from, shown string
}

func (e *renamedError) Error() string {
	msg := e.err.Error()
	var b strings.Builder
	for {
		i := strings.Index(msg, e.from)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len(e.from)
		b.WriteString(msg[:i])
		if end < len(msg) && msg[end] >= '0' && msg[end] <= '9' {
			b.WriteString(e.from) // another descriptor: /proc/self/fd/70 for /proc/self/fd/7
		} else {
			b.WriteString(e.shown)
		}
		msg = msg[end:]
	}
}

func (e *renamedError) Unwrap() error { return e.err }

// fetchTo fetches u into name under root by its scheme. An http(s) URI
// that net/url refuses is reported as such (Mesos' fetcher hands every
// scheme:// URI to its download path, never to the local one); the
// parse error names only the problem, masked, not the URI.
func (f *Fetcher) fetchTo(ctx context.Context, u mesos.CommandInfo_URI, root *os.Root, name string) error {
	pu, err := url.Parse(u.Value)
	remote := err == nil && (pu.Scheme == "http" || pu.Scheme == "https")
	switch {
	case err != nil && httpScheme(u.Value):
		return fmt.Errorf("unparsable URI: %s", redact.Credentials(parseProblem(err)))
	case remote:
		if f.CacheDir != "" && (u.GetCache() || f.CacheAll) {
			return f.fromCache(ctx, u.Value, u.GetExecutable(), root, name)
		}
		return f.download(ctx, u.Value, root, name)
	case err == nil && pu.Scheme == "file":
		return copyFile(ctx, pu.Path, root, name)
	case filepath.IsAbs(u.Value):
		return copyFile(ctx, u.Value, root, name)
	case err == nil && pu.Scheme != "":
		return fmt.Errorf("unsupported URI scheme %q (want http, https, file or an absolute path)", pu.Scheme)
	default:
		return errors.New("relative local paths are not supported (use an absolute path or file://)")
	}
}

// httpScheme reports whether uri starts with http:// or https://, in any
// case (RFC 3986 section 3.1: schemes are case-insensitive).
func httpScheme(uri string) bool {
	l := strings.ToLower(uri)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// parseProblem is err's problem without the URI net/url quotes in it
// (url.Error's Op and URL), e.g. `invalid URL escape "%.t"`.
func parseProblem(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// fromCache downloads uri into the cache once, then hard-links the entry
// into the sandbox — what makes a cache of multi-megabyte binaries cheap
// for hundreds of pods — or copies it when the two are on different
// filesystems. The sandbox's link and the entry are one file, so a task
// that writes to, truncates, chmods or chowns its fetched file changes the
// entry. Mesos copies from its cache (src/launcher/fetcher.cpp,
// fetchFromCache → copyFile), which this would have to pay for every pod.
// Instead the entry's stat is recorded when it is filled (entryRecord: size,
// mtime in nanoseconds, mode, inode, owner; the mtime set to a whole
// second before the download began, so that a write in the same clock tick
// still moves it) and compared, under the entry's lock, before every link: an entry
// that no longer matches (or has no record) is removed, logged once with
// the URI, and downloaded again.
//
// What this does not guard against: a task that deliberately restores the
// size and mtime (and mode) after rewriting its file in place; and a
// change a task makes while other tasks already hold links to the entry,
// which those tasks see (the check runs when a link is handed out, not
// after). executable URIs get a 0755 entry, set and recorded under the
// lock, not by the chmod through the link.
func (f *Fetcher) fromCache(ctx context.Context, uri string, executable bool, root *os.Root, name string) error {
	sum := sha256.Sum256([]byte(uri))
	key := hex.EncodeToString(sum[:16])
	if err := os.MkdirAll(f.CacheDir, 0o755); err != nil {
		return err
	}
	cache, err := os.OpenRoot(f.CacheDir)
	if err != nil {
		return fmt.Errorf("opening the fetcher cache: %w", err)
	}
	defer cache.Close()
	wait := f.lockWait
	if wait <= 0 {
		wait = cacheLockWait
	}
	// A hit links under a shared lock: hits of one entry (an agent's
	// executors starting together, each fetching the same binaries) run
	// side by side, and only a fill or a discard, under the exclusive
	// lock, keeps them out.
	if done, err := hit(ctx, cache, key, executable, root, name, wait); done || err != nil {
		return err
	}
	unlock, err := lockEntry(ctx, cache, ".lock-"+key, unix.LOCK_EX, wait)
	if err != nil {
		return err
	}
	defer unlock()
	if err := f.fill(ctx, uri, cache, key); err != nil {
		return err
	}
	if executable {
		if err := makeExecutable(cache, key); err != nil {
			return fmt.Errorf("making the cache entry executable: %w", err)
		}
	}
	return linkOrCopy(ctx, cache, key, root, name)
}

// fill makes the cache entry key hold uri as it was downloaded: it keeps
// an entry that matches its record, discards one that does not (changed
// since, or never recorded), and downloads what is missing. The caller
// holds the entry's lock: an flock(2) on .lock-<key> in the cache, taken
// through an open of its own by every fetch, so that fetchers in
// different processes (an agent's executors, one per pod) or in one,
// sharing one CacheDir, download each entry once instead of all at once.
// The kernel drops the lock when its holder dies; what a dead holder was
// writing (.fetch-<key>-*, .fetch-.record-<key>-*) is removed by the next
// one; a holder that hangs is waited for at most cacheLockWait (see
// lockEntry).
// hit links the cache entry key into root as name under a shared lock on
// the entry, if it is there as recorded (and executable, if asked); done
// is false when it is not, for the caller to fill it under the exclusive
// lock.
func hit(ctx context.Context, cache *os.Root, key string, executable bool, root *os.Root, name string, wait time.Duration) (done bool, err error) {
	unlock, err := lockEntry(ctx, cache, ".lock-"+key, unix.LOCK_SH, wait)
	if err != nil {
		return false, err
	}
	defer unlock()
	fi, err := cache.Lstat(key)
	if err != nil {
		return false, nil
	}
	if executable && fi.Mode().Perm() != 0o755 {
		return false, nil
	}
	if _, ok := asRecorded(cache, key, fi); !ok {
		return false, nil
	}
	return true, linkOrCopy(ctx, cache, key, root, name)
}

// asRecorded reports whether the cache entry key (fi, its Lstat) is as its
// record says, and what the record says ("" when there is none).
func asRecorded(cache *os.Root, key string, fi os.FileInfo) (was string, ok bool) {
	recorded, err := cache.ReadFile(recordName(key))
	return string(recorded), err == nil && string(recorded) == entryRecord(fi)
}

func (f *Fetcher) fill(ctx context.Context, uri string, cache *os.Root, key string) error {
	fi, err := cache.Lstat(key)
	switch {
	case err == nil:
		recorded, ok := asRecorded(cache, key, fi)
		if ok {
			return nil
		}
		was := strings.TrimSpace(recorded)
		if was == "" {
			was = "no record"
		}
		f.logger().Warn("discarding a fetcher cache entry that does not match its record (changed since it was downloaded, e.g. by a task writing to or chmodding its fetched file); downloading it again",
			"uri", redact.Credentials(uri), "entry", filepath.Join(f.CacheDir, key), "was", was, "now", strings.TrimSpace(entryRecord(fi)))
		if err := cache.Remove(key); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("discarding the changed cache entry: %w", err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if err := cache.Remove(recordName(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the cache entry's record: %w", err)
	}
	removeTemps(cache, key)
	removeTemps(cache, recordName(key))
	// A whole second, at least one before the download began: any write
	// through a link later sets the mtime to the clock's time then, which
	// differs from it even within the filesystem clock's tick (a few ms).
	stamp := time.Now().Add(-time.Second).Truncate(time.Second)
	if err := f.download(ctx, uri, cache, key); err != nil {
		return err
	}
	if err := cache.Chtimes(key, stamp, stamp); err != nil {
		return fmt.Errorf("stamping the cache entry: %w", err)
	}
	return record(cache, key)
}

// makeExecutable makes the entry key mode 0755 and records it, unless it
// is already; the caller holds the entry's lock.
func makeExecutable(cache *os.Root, key string) error {
	fi, err := cache.Lstat(key)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == 0o755 {
		return nil
	}
	if err := cache.Chmod(key, 0o755); err != nil {
		return err
	}
	return record(cache, key)
}

// recordName is the name of the record of the cache entry key.
func recordName(key string) string { return ".record-" + key }

// record writes the record of the cache entry key (entryRecord of its
// stat), replacing the old one by rename.
func record(cache *os.Root, key string) error {
	fi, err := cache.Lstat(key)
	if err != nil {
		return err
	}
	if err := writeFile(cache, recordName(key), strings.NewReader(entryRecord(fi)), 0o644); err != nil {
		return fmt.Errorf("recording the cache entry: %w", err)
	}
	return nil
}

// entryRecord describes what of a cache entry's stat a task's change
// through its link moves: size, mtime (ns), st_mode (type and permission
// bits), inode, owner and group, one line. Not ctime or the link count,
// which every link made or removed changes.
func entryRecord(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("size=%d mtime=%d mode=%v\n", fi.Size(), fi.ModTime().UnixNano(), fi.Mode())
	}
	return fmt.Sprintf("size=%d mtime=%d mode=%o ino=%d uid=%d gid=%d\n",
		st.Size, st.Mtim.Sec*1e9+st.Mtim.Nsec, st.Mode, st.Ino, st.Uid, st.Gid)
}

// logger is f.Logger, or slog.Default().
func (f *Fetcher) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}

// removeTemps removes what writeFile left of name in root when its
// writer died: only the holder of name's lock may call it.
func removeTemps(root *os.Root, name string) {
	dir, err := root.Open(".")
	if err != nil {
		return
	}
	defer dir.Close()
	names, _ := dir.Readdirnames(-1)
	for _, n := range names {
		if strings.HasPrefix(n, tempPrefix(name)) {
			_ = root.Remove(n)
		}
	}
}

// cacheLockWait bounds how long one holder of a cache entry's lock is
// waited for: the default client's timeout, which bounds the holder's
// download, and some. A holder that keeps the lock longer hangs.
const cacheLockWait = 5*time.Minute + 10*time.Second

// lockEntry takes an flock on name under cache, exclusive (how
// unix.LOCK_EX: filling or discarding the entry) or shared (unix.LOCK_SH:
// linking a hit), polling (2 ms, doubling to 50 ms) until it is free or
// ctx ends, and gives up when one exclusive holder has kept the lock for
// wait.
//
// The bound is per holder, not per wait: a waiter queued behind a download
// that failed, and then behind the download of the fetcher that took the
// lock next, waits for each in turn, as each may take up to the client's
// timeout. To tell holders apart, every holder writes a token of its own
// (its pid and a random nonce, lockTokenLen bytes) at the start of the
// lock file as it takes the lock; a waiter measures wait from when it
// first saw the current token. Each holder is another fetch of the same
// entry, so the waits are bounded by the number of fetchers queued, and
// each by wait; ctx bounds them all. Shared holders write no token: they
// only link, briefly, and never keep a waiter long.
//
// The lock file is never removed, so there is one per cache key, for good
// (24 bytes). An flock belongs to the open file, not to its name: were it
// removed while another fetcher had it open (waiting) or was about to open
// it, that fetcher would lock the removed file and a third a new one of the
// same name, both "holding" the entry at once. Removal would be safe only
// if every locker, once locked, checked that the name still leads to the
// inode it locked, and started again if not; for 24 bytes per URI fetched
// it is not worth it (nothing is evicted from the cache either).
func lockEntry(ctx context.Context, cache *os.Root, name string, how int, wait time.Duration) (unlock func(), err error) {
	lf, err := cache.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the cache entry's lock: %w", err)
	}
	holder, since := readLockToken(lf), time.Now()
	for pause := 2 * time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		err := unix.Flock(int(lf.Fd()), how|unix.LOCK_NB)
		if err == nil {
			if how == unix.LOCK_EX {
				// Advisory: a holder whose token cannot be written is only
				// measured from an older token by its waiters, so given less.
				_, _ = lf.WriteAt(newLockToken(), 0)
			}
			return func() { lf.Close() }, nil // closing the file releases the lock
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			lf.Close()
			return nil, fmt.Errorf("locking the cache entry: %w", err)
		}
		now := time.Now()
		if t := readLockToken(lf); t != holder {
			holder, since = t, now
		} else if now.Sub(since) > wait {
			lf.Close()
			return nil, fmt.Errorf("the cache entry is still being downloaded by another fetcher (pid %s), which has held it for more than %v", lockTokenPid(holder), wait)
		}
		select {
		case <-ctx.Done():
			lf.Close()
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// lockTokenLen is the length of a lock token: "<pid, 10 digits> <nonce,
// 12 characters>\n", fixed so a new token overwrites the old whole.
const lockTokenLen = 24

// newLockToken is a token for a new holder of a cache entry's lock.
func newLockToken() []byte {
	return fmt.Appendf(nil, "%10d %s\n", os.Getpid(), rand.Text()[:12])
}

// readLockToken reads the current holder's token from lf ("" before the
// first holder).
func readLockToken(lf *os.File) string {
	b := make([]byte, lockTokenLen)
	n, _ := lf.ReadAt(b, 0)
	return string(b[:n])
}

// lockTokenPid is the pid in token t, or "unknown".
func lockTokenPid(t string) string {
	if pid, _, ok := strings.Cut(strings.TrimSpace(t), " "); ok && pid != "" {
		return pid
	}
	return "unknown"
}

func (f *Fetcher) download(ctx context.Context, uri string, root *os.Root, name string) error {
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
		// the URI with its credentials masked.
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
	return writeFile(root, name, res.Body, 0o644)
}

// tempPrefix starts the names of writeFile's temporary files for name:
// .fetch-<base>- for a short base name (a cache key), else .fetch-.
func tempPrefix(name string) string {
	if b := path.Base(name); len(b) <= 64 {
		return ".fetch-" + b + "-"
	}
	return ".fetch-"
}

// writeFile writes r to name under root atomically: a new temporary file
// beside it, then a rename over whatever name was (a link is replaced, never
// written through).
func writeFile(root *os.Root, name string, r io.Reader, perm os.FileMode) error {
	tmp := path.Join(path.Dir(name), tempPrefix(name)+rand.Text()[:12])
	out, err := root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer root.Remove(tmp) // after a successful rename, a no-op
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := root.Chmod(tmp, perm); err != nil {
		return err
	}
	return root.Rename(tmp, name)
}

// copyFile copies the local file src to name under root, stopping with
// ctx's error when ctx ends.
func copyFile(ctx context.Context, src string, root *os.Root, name string) error {
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
	return writeFile(root, name, ctxReader{ctx, in}, st.Mode().Perm()|0o600)
}

// ctxReader reads r until ctx ends, then fails with ctx's error, checked
// before every Read: what stops a long copy (an archive entry being
// extracted, a local file, a cache entry copied across filesystems) when
// the fetch is cancelled, e.g. by the executor for a killed task.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// linkOrCopy hard-links from's key into root as name, or copies it when
// the two are on different filesystems (a copy that stops when ctx ends).
// The link is made relative to directory handles opened through both
// roots, so neither side can be redirected by a symbolic link.
func linkOrCopy(ctx context.Context, from *os.Root, key string, root *os.Root, name string) error {
	src, err := from.Open(".")
	if err != nil {
		return err
	}
	defer src.Close()
	dir, err := root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer dir.Close()
	tmp := ".fetch-" + rand.Text()[:12]
	err = unix.Linkat(int(src.Fd()), key, int(dir.Fd()), tmp, 0)
	if err != nil {
		in, oerr := from.Open(key)
		if oerr != nil {
			return oerr
		}
		defer in.Close()
		return writeFile(root, name, ctxReader{ctx, in}, 0o644)
	}
	tmpName := path.Join(path.Dir(name), tmp)
	if err := root.Rename(tmpName, name); err != nil {
		root.Remove(tmpName)
		return err
	}
	return nil
}
