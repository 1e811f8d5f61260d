package fetcher

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// BenchmarkCacheHit: fetches of one cached 8 MiB executable, the entry
// already downloaded, into fresh sandboxes, as an agent's executors starting
// together do (-cpu sets how many at once): each takes the entry's lock,
// checks the entry against its record and links it.
func BenchmarkCacheHit(b *testing.B) {
	body := strings.Repeat("x", 8<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	defer srv.Close()
	exe, cached := true, true
	u := mesos.CommandInfo_URI{Value: srv.URL + "/tool", Executable: &exe, Cache: &cached}
	f := &Fetcher{CacheDir: b.TempDir()}
	sandboxes := b.TempDir()
	if _, err := f.FetchOne(context.Background(), u, sandboxes); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sb := filepath.Join(sandboxes, strconv.FormatInt(n.Add(1), 10))
			if err := os.Mkdir(sb, 0o755); err != nil {
				b.Error(err)
				return
			}
			if _, err := f.FetchOne(context.Background(), u, sb); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
