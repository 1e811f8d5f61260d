package fetcher

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"golang.org/x/sys/unix"
)

// TestSharedCache: fetchers in different executors share the agent's cache
// directory; the URI is downloaded once, and each sandbox gets a hard link
// to the cache entry rather than a copy.
func TestSharedCache(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("#!/bin/sh\necho tool\n"))
	}))
	defer srv.Close()
	cache := t.TempDir()
	exe, cached := true, true
	u := mesos.CommandInfo_URI{Value: srv.URL + "/bin/tool?sha256=abc", Executable: &exe, Cache: &cached}
	var inodes []uint64
	for i := 0; i < 3; i++ {
		f := &Fetcher{CacheDir: cache} // a new fetcher, as in another executor process
		sandbox := t.TempDir()
		p, err := f.FetchOne(context.Background(), u, sandbox)
		if err != nil {
			t.Fatal(err)
		}
		if p != filepath.Join(sandbox, "tool") {
			t.Fatalf("fetched to %s", p)
		}
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("stat %s: %v %v", p, fi, err)
		}
		inodes = append(inodes, fi.Sys().(*syscall.Stat_t).Ino)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("downloaded %d times, want once", n)
	}
	if inodes[0] != inodes[1] || inodes[1] != inodes[2] {
		t.Errorf("sandboxes hold copies, not links to the cache entry: inodes %v", inodes)
	}
}

// TestSharedCacheConcurrentFetches: the tasks of one pod share their
// executor's Fetcher and fetch the same binaries at once. One downloads;
// the others wait for the entry's lock (an flock through opens of their
// own conflicts within a process as between processes, which
// TestSharedCacheProcesses covers) and link what it wrote.
func TestSharedCacheConcurrentFetches(t *testing.T) {
	srv, hits, release := heldServer(t)
	cache := t.TempDir()
	exe, cached := true, true
	u := mesos.CommandInfo_URI{Value: srv.URL + "/bin/tool?sha256=def", Executable: &exe, Cache: &cached}
	f := &Fetcher{CacheDir: cache}
	const fetches = 8
	errs := make(chan error, fetches)
	for i := 0; i < fetches; i++ {
		go func() {
			_, err := f.FetchOne(context.Background(), u, t.TempDir())
			errs <- err
		}()
	}
	holdFirst(hits, 300*time.Millisecond, release)
	for i := 0; i < fetches; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d fetches sharing the cache downloaded the entry %d times, want once", fetches, n)
	}
}

// heldServer serves a small script, holding every response until release
// is closed, and counts the requests.
func heldServer(t *testing.T) (srv *httptest.Server, hits *atomic.Int32, release chan struct{}) {
	hits, release = new(atomic.Int32), make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("#!/bin/sh\necho tool\n"))
	}))
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		srv.Close()
	})
	return srv, hits, release
}

// holdFirst waits (at most 20 s) for the first request, holds it for d so
// that every other fetcher reaches the cache meanwhile (without the lock
// each would be a request by then), then releases the responses.
func holdFirst(hits *atomic.Int32, d time.Duration, release chan struct{}) {
	deadline := time.Now().Add(20 * time.Second)
	for hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(d)
	close(release)
}

// TestCacheLockWaitEndsWithContext: a fetcher waiting for another's
// download gives up when its context ends.
func TestCacheLockWaitEndsWithContext(t *testing.T) {
	cache, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	unlock, err := lockEntry(context.Background(), cache, ".lock-k", unix.LOCK_EX, cacheLockWait)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := lockEntry(ctx, cache, ".lock-k", unix.LOCK_EX, cacheLockWait); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("lockEntry on a held lock: %v, want the context's deadline", err)
	}
}

// TestFetchErrorsHideURIPasswords: a URI's password never reaches the error
// (which becomes a TASK_FAILED message the scheduler logs and shows).
func TestFetchErrorsHideURIPasswords(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	closed := srv.URL
	srv.Close() // connection refused from here on
	live := httptest.NewServer(http.NotFoundHandler())
	defer live.Close()
	for _, uri := range []string{
		strings.Replace(closed, "://", "://user:Sekr1tPw@", 1) + "/tool",
		strings.Replace(live.URL, "://", "://user:Sekr1tPw@", 1) + "/missing",
	} {
		_, err := (&Fetcher{}).FetchOne(context.Background(), mesos.CommandInfo_URI{Value: uri}, t.TempDir())
		if err == nil || strings.Contains(err.Error(), "Sekr1tPw") || !strings.Contains(err.Error(), "user:") {
			t.Errorf("error %v: want a failure naming the URI with its password masked", err)
		}
	}
}

// TestCacheEntryChangedThroughLink: a sandbox's cached file is a hard link
// to the cache entry, so a task changing its file changes the entry. The
// next fetch of the URI must not hand the changed file out: it discards the
// entry, logs that once naming the URI (its password masked) and downloads
// it again; the task keeps its changed file; the fetch after that links
// the new entry without downloading.
func TestCacheEntryChangedThroughLink(t *testing.T) {
	const body = "#!/bin/sh\necho original\n"
	for _, tc := range []struct {
		name       string
		executable bool
		change     func(t *testing.T, file, entry string)
	}{
		{"append", false, func(t *testing.T, file, _ string) {
			f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("echo planted\n"); err != nil {
				t.Fatal(err)
			}
		}},
		// Same size, at once: within the filesystem clock's tick of the download.
		{"rewrite in place", false, func(t *testing.T, file, _ string) {
			f, err := os.OpenFile(file, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("echo planted.\n"), 10); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncate", false, func(t *testing.T, file, _ string) {
			if err := os.Truncate(file, 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"chmod", false, func(t *testing.T, file, _ string) {
			if err := os.Chmod(file, 0o777); err != nil {
				t.Fatal(err)
			}
		}},
		{"chmod an executable", true, func(t *testing.T, file, _ string) {
			if err := os.Chmod(file, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"touch", false, func(t *testing.T, file, _ string) {
			now := time.Now()
			if err := os.Chtimes(file, now, now); err != nil {
				t.Fatal(err)
			}
		}},
		// A cache filled before entries had records (or a fetcher that
		// died between the entry and its record).
		{"no record", false, func(t *testing.T, _, entry string) {
			if err := os.Remove(filepath.Join(filepath.Dir(entry), recordName(filepath.Base(entry)))); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Write([]byte(body))
			}))
			defer srv.Close()
			var logs strings.Builder
			f := &Fetcher{CacheDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			exe, cached := tc.executable, true
			u := mesos.CommandInfo_URI{Value: strings.Replace(srv.URL, "://", "://user:Sekr1tPw@", 1) + "/tool", Executable: &exe, Cache: &cached}
			wantMode := os.FileMode(0o644)
			if tc.executable {
				wantMode = 0o755
			}
			fetch := func() (string, os.FileInfo) {
				t.Helper()
				p, err := f.FetchOne(context.Background(), u, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				return p, fi
			}
			first, _ := fetch()
			tc.change(t, first, filepath.Join(f.CacheDir, cacheKey(u.Value)))
			changed, _ := os.ReadFile(first)
			second, fi := fetch()
			if b, _ := os.ReadFile(second); string(b) != body || fi.Mode().Perm() != wantMode {
				t.Errorf("the next task fetched %q mode %v, want %q mode %v", b, fi.Mode().Perm(), body, wantMode)
			}
			if b, _ := os.ReadFile(first); string(b) != string(changed) {
				t.Errorf("the first task's file became %q, want it left as the task made it (%q)", b, changed)
			}
			if n := hits.Load(); n != 2 {
				t.Errorf("%d downloads, want 2 (the changed entry downloaded again)", n)
			}
			if n := strings.Count(logs.String(), "discarding a fetcher cache entry"); n != 1 || !strings.Contains(logs.String(), "user:") || strings.Contains(logs.String(), "Sekr1tPw") {
				t.Errorf("logged %d discards, want 1 naming the URI with its password masked:\n%s", n, logs.String())
			}
			_, again := fetch()
			if n := hits.Load(); n != 2 || !os.SameFile(fi, again) {
				t.Errorf("after the new download, %d downloads and the next fetch links the entry: %v; want 2 and a link", n, os.SameFile(fi, again))
			}
		})
	}
}

// TestCacheHitsShareTheLock: a hit links under a shared lock, so hits of
// one entry do not wait for each other (another hit holds it shared here,
// as one mid-link would), while a fill or a discard, exclusive, still
// keeps them out. Before, every hit took the lock exclusively: an agent's
// executors starting together queued one by one, polling.
func TestCacheHitsShareTheLock(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("tool")) }))
	defer srv.Close()
	exe, cached := true, true
	u := mesos.CommandInfo_URI{Value: srv.URL + "/tool", Executable: &exe, Cache: &cached}
	f := &Fetcher{CacheDir: t.TempDir()}
	if _, err := f.FetchOne(context.Background(), u, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	cache, err := os.OpenRoot(f.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	lock := ".lock-" + cacheKey(u.Value)
	shared, err := lockEntry(context.Background(), cache, lock, unix.LOCK_SH, cacheLockWait)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := f.FetchOne(ctx, u, t.TempDir()); err != nil {
		t.Errorf("a hit while another holds the entry shared: %v", err)
	}
	shared()

	held, err := lockEntry(context.Background(), cache, lock, unix.LOCK_EX, cacheLockWait)
	if err != nil {
		t.Fatal(err)
	}
	defer held()
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := f.FetchOne(ctx, u, t.TempDir()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a hit while the entry is held exclusively: %v, want to wait until the context's deadline", err)
	}
}
