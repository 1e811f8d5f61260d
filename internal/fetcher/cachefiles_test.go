package fetcher

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// TestCacheFilesBounded: what a cache entry leaves beside it is one lock
// file and, while the entry is there, one record, whatever happened to it
// (hits, a discard and download again, failed and cancelled downloads):
// nothing per attempt, no record without its entry, no temporary file.
// Lock files are kept on purpose (see lockEntry).
func TestCacheFilesBounded(t *testing.T) {
	const body = "#!/bin/sh\necho tool\n"
	type step struct {
		fail, hang, change, executable bool // the server errs, hangs mid-body; the task changes its file
	}
	ok, fails, hangs := step{}, step{fail: true}, step{hang: true}
	for _, tc := range []struct {
		name     string
		steps    []step
		entry    bool // the entry and its record are there at the end
		failures int  // fetches that fail
	}{
		{"hits", []step{ok, ok, ok, ok, ok}, true, 0},
		{"plain then executable", []step{ok, {executable: true}, ok, {executable: true}}, true, 0},
		{"changed by tasks, discarded and downloaded again", []step{{change: true}, {change: true}, {change: true}, ok}, true, 0},
		{"server errors", []step{fails, fails, fails}, false, 3},
		{"downloads cancelled", []step{hangs, hangs, hangs}, false, 3},
		{"discarded, then the download fails", []step{{change: true}, fails}, false, 1},
		{"cancelled, then downloaded", []step{hangs, ok, ok}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mode atomic.Value
			mode.Store(ok)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch s := mode.Load().(step); {
				case s.fail:
					http.Error(w, "no", http.StatusInternalServerError)
				case s.hang:
					w.Write([]byte(body[:5]))
					w.(http.Flusher).Flush()
					<-r.Context().Done()
				default:
					w.Write([]byte(body))
				}
			}))
			defer srv.Close()
			cache := t.TempDir()
			f := &Fetcher{CacheDir: cache}
			uri := srv.URL + "/tool"
			failures := 0
			for i, s := range tc.steps {
				mode.Store(s)
				ctx, cancel := context.WithCancel(context.Background())
				if s.hang {
					go func() { // cancelled once the download has begun
						for {
							if tmps, _ := filepath.Glob(filepath.Join(cache, ".fetch-*")); len(tmps) > 0 {
								cancel()
								return
							}
							if ctx.Err() != nil {
								return
							}
							time.Sleep(time.Millisecond)
						}
					}()
				}
				cached := true
				p, err := f.FetchOne(ctx, mesos.CommandInfo_URI{Value: uri, Cache: &cached, Executable: &s.executable}, t.TempDir())
				cancel()
				if err != nil {
					failures++
					continue
				}
				if s.change {
					if err := os.Chmod(p, 0o600); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
			}
			if failures != tc.failures {
				t.Errorf("%d fetches failed, want %d", failures, tc.failures)
			}
			key := cacheKey(uri)
			want := []string{".lock-" + key}
			if tc.entry {
				want = append(want, ".record-"+key, key)
			}
			slices.Sort(want)
			ents, err := os.ReadDir(cache)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range ents {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, want) {
				t.Errorf("the cache holds %v, want %v", got, want)
			}
		})
	}
}
