package fetcher

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
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
