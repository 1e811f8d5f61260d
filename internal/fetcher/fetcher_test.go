package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

func tarGz(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

func TestFetcher(t *testing.T) {
	var hits atomic.Int32
	blobs := map[string][]byte{
		"/bin/tool":        []byte("#!/bin/sh\necho tool\n"),
		"/pkg/app.tar.gz":  tarGz(t, map[string]string{"app/run.sh": "echo run"}),
		"/pkg/bundle.zip":  zipOf(t, map[string]string{"conf/a.txt": "A"}),
		"/pkg/evil.tar.gz": tarGz(t, map[string]string{"../escape": "x"}),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, ok := blobs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	local := filepath.Join(t.TempDir(), "local.txt")
	os.WriteFile(local, []byte("local"), 0o644)
	ctx := context.Background()
	bt, bf := true, false

	for _, tc := range []struct {
		name    string
		uri     mesos.CommandInfo_URI
		check   string // file that must exist afterwards
		exec    bool
		wantErr bool
	}{
		{"executable", mesos.CommandInfo_URI{Value: srv.URL + "/bin/tool", Executable: &bt}, "tool", true, false},
		{"output_file", mesos.CommandInfo_URI{Value: srv.URL + "/bin/tool", OutputFile: strp("sub/renamed")}, "sub/renamed", false, false},
		{"tar.gz extracted", mesos.CommandInfo_URI{Value: srv.URL + "/pkg/app.tar.gz"}, "app/run.sh", false, false},
		{"zip extracted", mesos.CommandInfo_URI{Value: srv.URL + "/pkg/bundle.zip"}, "conf/a.txt", false, false},
		{"extract false", mesos.CommandInfo_URI{Value: srv.URL + "/pkg/bundle.zip", Extract: &bf}, "bundle.zip", false, false},
		{"local path", mesos.CommandInfo_URI{Value: local}, "local.txt", false, false},
		{"file URI", mesos.CommandInfo_URI{Value: "file://" + local, OutputFile: strp("f.txt")}, "f.txt", false, false},
		{"404", mesos.CommandInfo_URI{Value: srv.URL + "/missing"}, "", false, true},
		{"zip slip", mesos.CommandInfo_URI{Value: srv.URL + "/pkg/evil.tar.gz"}, "", false, true},
		{"output_file escaping", mesos.CommandInfo_URI{Value: local, OutputFile: strp("../x")}, "", false, true},
		{"unsupported scheme", mesos.CommandInfo_URI{Value: "ftp://example.com/x"}, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sandbox := t.TempDir()
			var f Fetcher
			_, err := f.FetchOne(ctx, tc.uri, sandbox)
			if (err != nil) != tc.wantErr {
				t.Fatalf("FetchOne: %v, want error %v", err, tc.wantErr)
			}
			if tc.check == "" {
				return
			}
			st, err := os.Stat(filepath.Join(sandbox, tc.check))
			if err != nil {
				t.Fatal(err)
			}
			if tc.exec && st.Mode()&0o111 == 0 {
				t.Errorf("%s not executable", tc.check)
			}
		})
	}

	t.Run("cache", func(t *testing.T) {
		f := Fetcher{CacheDir: t.TempDir()}
		before := hits.Load()
		for i := 0; i < 3; i++ {
			if _, err := f.FetchOne(ctx, mesos.CommandInfo_URI{Value: srv.URL + "/bin/tool", Cache: &bt}, t.TempDir()); err != nil {
				t.Fatal(err)
			}
		}
		if n := hits.Load() - before; n != 1 {
			t.Errorf("cached URI fetched %d times, want 1", n)
		}
	})
}

// TestErrorsMaskCredentials: a fetch error becomes the executor's and
// testenv's TASK_FAILED message, so neither the URI nor the file named
// after it may show a credential, and an http(s) URI net/url refuses is
// called unparsable, not a local path.
func TestErrorsMaskCredentials(t *testing.T) {
	for _, tc := range []struct {
		name   string
		uri    string
		want   string   // in the error
		secret []string // never in the error
	}{
		{"bare percent, signed query", "http://127.0.0.1:1/100%.tgz?X-Amz-Signature=abc123456",
			`unparsable URI: invalid URL escape "%.t"`, []string{"abc123456"}},
		{"bare percent, https, upper-case scheme", "HTTPS://127.0.0.1:1/a%zz.zip?sig=abc123456&X-Goog-Signature=def789012",
			`unparsable URI: invalid URL escape "%zz"`, []string{"abc123456", "def789012"}},
		{"bad port, userinfo password", "http://app:s3cretpassw0rd@127.0.0.1:port/x.tgz",
			"unparsable URI: ", []string{"s3cretpassw0rd"}},
		{"relative path stays relative", "dir/x.tgz",
			"relative local paths are not supported", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Fetcher
			_, err := f.FetchOne(context.Background(), mesos.CommandInfo_URI{Value: tc.uri}, t.TempDir())
			if err == nil {
				t.Fatal("FetchOne succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to contain %q", msg, tc.want)
			}
			for _, s := range tc.secret {
				if strings.Contains(msg, s) {
					t.Errorf("error %q shows %q", msg, s)
				}
			}
		})
	}
}

func strp(s string) *string { return &s }
