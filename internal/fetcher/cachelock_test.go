package fetcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"golang.org/x/sys/unix"
)

// The helper-process trick: the test binary re-runs itself as an executor
// process of its own that fetches one URI into the shared cache.
func TestMain(m *testing.M) {
	if os.Getenv("FETCHER_TEST_HELPER") == "fetch" {
		helperFetch()
	}
	os.Exit(m.Run())
}

// helperFetch fetches FETCH_URI (cached) into a fresh sandbox under
// FETCH_CACHE, as another executor sharing the agent's cache would.
func helperFetch() {
	exe, cached := true, true
	u := mesos.CommandInfo_URI{Value: os.Getenv("FETCH_URI"), Executable: &exe, Cache: &cached}
	sandbox, err := os.MkdirTemp(os.Getenv("FETCH_SANDBOXES"), "sandbox-")
	if err == nil {
		_, err = (&Fetcher{CacheDir: os.Getenv("FETCH_CACHE")}).FetchOne(context.Background(), u, sandbox)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func helperCmd(uri, cache, sandboxes string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FETCHER_TEST_HELPER=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "FETCHER_TEST_HELPER=fetch", "FETCH_URI="+uri, "FETCH_CACHE="+cache, "FETCH_SANDBOXES="+sandboxes)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func cacheKey(uri string) string {
	sum := sha256.Sum256([]byte(uri))
	return hex.EncodeToString(sum[:16])
}

// TestSharedCacheProcesses: executors are processes, not goroutines. Eight
// processes fetching the same cached URI at once download it once, and
// every sandbox links the one cache entry.
func TestSharedCacheProcesses(t *testing.T) {
	srv, hits, release := heldServer(t)
	cache, sandboxes := t.TempDir(), t.TempDir()
	uri := srv.URL + "/bin/tool?sha256=proc"
	const procs = 8
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		cmd := helperCmd(uri, cache, sandboxes)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	holdFirst(hits, time.Second, release) // processes take longer to start
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d processes sharing the cache downloaded the entry %d times, want once", procs, n)
	}
	entry, err := os.Stat(filepath.Join(cache, cacheKey(uri)))
	if err != nil {
		t.Fatal(err)
	}
	links, _ := filepath.Glob(filepath.Join(sandboxes, "*", "tool"))
	for _, l := range links {
		if fi, err := os.Stat(l); err != nil || !os.SameFile(fi, entry) {
			t.Errorf("%s is not a link to the cache entry (%v)", l, err)
		}
	}
	if len(links) != procs {
		t.Errorf("%d sandboxes hold the tool, want %d", len(links), procs)
	}
}

// TestCacheHolderDies: the process downloading an entry is SIGKILLed
// mid-body. Its lock goes with it, no half-written entry is visible, and
// the next fetcher downloads the entry whole.
func TestCacheHolderDies(t *testing.T) {
	body := "#!/bin/sh\necho tool\n"
	var hits atomic.Int32
	first := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write([]byte(body[:5])) // half the body, then hang until the test ends
			w.(http.Flusher).Flush()
			close(first)
			<-r.Context().Done()
			return
		}
		w.Write([]byte(body))
	}))
	defer srv.Close()
	cache, sandboxes := t.TempDir(), t.TempDir()
	uri := srv.URL + "/bin/tool?sha256=dies"
	cmd := helperCmd(uri, cache, sandboxes)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the helper never started downloading")
	}
	time.Sleep(100 * time.Millisecond) // the half body is in the helper's temporary file
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Lstat(filepath.Join(cache, cacheKey(uri))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after the downloader died, the cache entry: %v, want none", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	exe, cached := true, true
	p, err := (&Fetcher{CacheDir: cache}).FetchOne(ctx, mesos.CommandInfo_URI{Value: uri, Executable: &exe, Cache: &cached}, t.TempDir())
	if err != nil {
		t.Fatalf("fetch after the downloader died: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != body {
		t.Errorf("fetched %q, want %q", b, body)
	}
	// What the dead process was writing is gone too.
	if left, _ := filepath.Glob(filepath.Join(cache, ".fetch-*")); len(left) > 0 {
		t.Errorf("left in the cache by the dead downloader: %v", left)
	}
}

// TestCacheFillAfterHolderFails: when the fetcher holding an entry's lock
// fails (the server errs, its context ends), the fetchers that waited for
// it download the entry themselves instead of failing or waiting on.
func TestCacheFillAfterHolderFails(t *testing.T) {
	// The holder's request is held in the handler until release. Its
	// context's end reaches the handler (r.Context()) only once the client's
	// transport has closed the connection, some time after cancel returns:
	// releasing the handler then would race the cancel (the response could
	// reach the client first and the holder's fetch succeed). So a cancelled
	// holder is released only after its fetch has returned.
	for _, tc := range []struct {
		name   string
		cancel bool // the holder's context ends; else the server answers 500
	}{
		{"server error", false},
		{"holder's context ends", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			var srvErr atomic.Bool
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					select {
					case <-release:
					case <-r.Context().Done():
						return
					}
					if srvErr.Load() {
						http.Error(w, "boom", http.StatusInternalServerError)
						return
					}
				}
				w.Write([]byte("tool"))
			}))
			defer srv.Close()
			cache := t.TempDir()
			cached := true
			u := mesos.CommandInfo_URI{Value: srv.URL + "/tool", Cache: &cached}
			hctx, hcancel := context.WithCancel(context.Background())
			defer hcancel()
			holderErr := make(chan error, 1)
			go func() {
				_, err := (&Fetcher{CacheDir: cache}).FetchOne(hctx, u, t.TempDir())
				holderErr <- err
			}()
			for hits.Load() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			const waiters = 3
			errs := make(chan error, waiters)
			for i := 0; i < waiters; i++ {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					_, err := (&Fetcher{CacheDir: cache}).FetchOne(ctx, u, t.TempDir())
					errs <- err
				}()
			}
			time.Sleep(200 * time.Millisecond)
			var err error
			if tc.cancel {
				hcancel()
				err = <-holderErr
				close(release)
			} else {
				srvErr.Store(true)
				close(release)
				err = <-holderErr
			}
			if err == nil {
				t.Error("the holder's fetch succeeded, want its failure")
			}
			for i := 0; i < waiters; i++ {
				if err := <-errs; err != nil {
					t.Errorf("waiter: %v", err)
				}
			}
			if n := hits.Load(); n != 2 {
				t.Errorf("%d requests, want 2 (the failed one, then one waiter's)", n)
			}
		})
	}
}

// TestCacheWaitInProcessEndsWithContext: two fetches of one entry through
// the same Fetcher (an executor's tasks of one pod share its Fetcher). The
// second waits for the first's download; when its own context ends it must
// give up then, as a fetcher waiting on another process's lock does.
func TestCacheWaitInProcessEndsWithContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Write([]byte("tool"))
	}))
	defer srv.Close()
	defer close(release)
	cached := true
	u := mesos.CommandInfo_URI{Value: srv.URL + "/tool", Cache: &cached}
	f := &Fetcher{CacheDir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.FetchOne(ctx, u, t.TempDir()) // the slow download
	time.Sleep(200 * time.Millisecond)
	wctx, wcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer wcancel()
	done := make(chan error, 1)
	go func() {
		_, err := f.FetchOne(wctx, u, t.TempDir())
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("waiting fetch: %v, want its context's deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a fetch waiting for the same Fetcher's download of its entry ignored its context's end (100 ms) for 5 s")
	}
}

// TestCacheLockNoDescriptorLeak: every path through the cache lock
// (download, hit, server error, context ended while waiting) closes what
// it opened.
func TestCacheLockNoDescriptorLeak(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/bad") {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("tool"))
	}))
	defer srv.Close()
	srv.Client().Transport.(*http.Transport).DisableKeepAlives = true
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	cache := t.TempDir()
	cached := true
	held, err := os.OpenRoot(cache)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	fds := func() int {
		ents, _ := os.ReadDir("/proc/self/fd")
		return len(ents)
	}
	// Warm up what the runtime opens once (netpoll, the server's listener).
	(&Fetcher{CacheDir: cache, Client: client}).FetchOne(context.Background(), mesos.CommandInfo_URI{Value: srv.URL + "/warm", Cache: &cached}, t.TempDir())
	before := fds()
	for i := 0; i < 20; i++ {
		f := &Fetcher{CacheDir: cache, Client: client}
		sb := t.TempDir()
		f.FetchOne(context.Background(), mesos.CommandInfo_URI{Value: srv.URL + fmt.Sprintf("/ok%d", i), Cache: &cached}, sb) // download
		f.FetchOne(context.Background(), mesos.CommandInfo_URI{Value: srv.URL + fmt.Sprintf("/ok%d", i), Cache: &cached}, sb) // hit
		f.FetchOne(context.Background(), mesos.CommandInfo_URI{Value: srv.URL + "/bad", Cache: &cached}, sb)                  // server error
		unlock, err := lockEntry(context.Background(), held, ".lock-"+cacheKey(srv.URL+"/held"), unix.LOCK_EX, cacheLockWait)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		if _, err := f.FetchOne(ctx, mesos.CommandInfo_URI{Value: srv.URL + "/held", Cache: &cached}, sb); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("fetch of a locked entry: %v", err)
		}
		cancel()
		unlock()
	}
	if after := fds(); after > before {
		t.Errorf("open descriptors: %d before, %d after 80 fetches", before, after)
	}
}

// TestCacheLockWaitPerHolder: a waiter's bound (cacheLockWait, here an
// injected 600 ms) applies to each holder of the entry's lock in turn, not
// to its whole wait: queued behind a download that failed and then behind
// the download of the fetcher that took the lock next, it waits for that
// one too; a holder that keeps the lock past the bound is given up. The
// test holds the lock itself and writes a new holder's token, as a
// fetcher taking the lock over does.
func TestCacheLockWaitPerHolder(t *testing.T) {
	const wait = 600 * time.Millisecond
	for _, tc := range []struct {
		name     string
		handover []time.Duration // when a new holder takes the lock over
		release  time.Duration   // when the last holder lets go
		fails    bool            // the waiter gives up
		min, max time.Duration   // the waiter's fetch ends within these
	}{
		{"one holder past the bound", nil, 3 * wait, true, wait, 3 * wait},
		{"each next holder within the bound", []time.Duration{wait / 3, 2 * wait / 3, wait, 4 * wait / 3, 5 * wait / 3}, 2 * wait, false, 2 * wait, time.Hour},
		{"the next holder hangs", []time.Duration{wait / 2}, 4 * wait, true, 3 * wait / 2, 4 * wait},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("tool")) }))
			defer srv.Close()
			cache := t.TempDir()
			held, err := os.OpenRoot(cache)
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			cached := true
			u := mesos.CommandInfo_URI{Value: srv.URL + "/tool", Cache: &cached}
			lock := ".lock-" + cacheKey(u.Value)
			unlock, err := lockEntry(context.Background(), held, lock, unix.LOCK_EX, cacheLockWait)
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			token, err := held.OpenFile(lock, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer token.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				_, err := (&Fetcher{CacheDir: cache, lockWait: wait}).FetchOne(ctx, u, t.TempDir())
				done <- err
			}()
			for _, at := range tc.handover {
				time.Sleep(time.Until(start.Add(at)))
				if _, err := token.WriteAt(newLockToken(), 0); err != nil {
					t.Fatal(err)
				}
			}
			var fetchErr error
			select {
			case fetchErr = <-done:
			case <-time.After(time.Until(start.Add(tc.release))):
				unlock()
				fetchErr = <-done
			}
			took := time.Since(start)
			t.Logf("the waiter's fetch: %v after %v", fetchErr, took)
			if tc.fails != (fetchErr != nil) {
				t.Errorf("the waiter's fetch: %v, want it to fail: %v", fetchErr, tc.fails)
			}
			if fetchErr != nil && !strings.Contains(fetchErr.Error(), "which has held it for more than "+wait.String()) {
				t.Errorf("error %q does not say the holder kept the lock past %v", fetchErr, wait)
			}
			if took < tc.min || took >= tc.max {
				t.Errorf("the waiter's fetch ended after %v, want within [%v, %v)", took, tc.min, tc.max)
			}
		})
	}
}
