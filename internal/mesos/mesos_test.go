package mesos

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Second, "5secs"},
		{15 * time.Minute, "15mins"},
		{1500 * time.Millisecond, "1500ms"},
		{2 * time.Hour, "2hrs"},
		{0, "0secs"},
		{3 * 24 * time.Hour, "3days"},
		{7 * time.Nanosecond, "7ns"},
	} {
		got := FormatDuration(tc.d)
		if got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
		back, err := ParseDuration(got)
		if err != nil || back != tc.d {
			t.Errorf("ParseDuration(%q) = %v, %v", got, back, err)
		}
	}
}

func TestUUID(t *testing.T) {
	a, b := NewUUID(), NewUUID()
	if len(a) != 16 || bytes.Equal(a, b) {
		t.Fatalf("uuids %x %x", a, b)
	}
	if s := UUIDString(a); len(s) != 36 || s[14] != '4' {
		t.Errorf("UUIDString = %q", s)
	}
}

func TestCodecNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name        string
		contentType string
		accept      []string
		wantReq     int
		wantResp    string
		wantRespErr int
	}{
		{"protobuf", "application/x-protobuf", []string{"application/x-protobuf"}, 0, MediaTypeProtobuf, 0},
		{"json", "application/json", []string{"application/json"}, 0, MediaTypeJSON, 0},
		{"json with charset", "application/json; charset=utf-8", nil, 0, MediaTypeJSON, 0},
		{"both acceptable prefers json", "application/json", []string{"application/x-protobuf, application/json"}, 0, MediaTypeJSON, 0},
		{"wildcard", "application/json", []string{"*/*"}, 0, MediaTypeJSON, 0},
		{"missing content type", "", nil, 400, MediaTypeJSON, 0},
		{"unsupported", "text/plain", []string{"text/html"}, 415, "", 406},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			for _, a := range tc.accept {
				r.Header.Add("Accept", a)
			}
			_, err := RequestCodec(r)
			if code := httpCode(err); code != tc.wantReq {
				t.Errorf("RequestCodec: %v, want code %d", err, tc.wantReq)
			}
			c, err := ResponseCodec(r)
			if code := httpCode(err); code != tc.wantRespErr {
				t.Errorf("ResponseCodec: %v, want code %d", err, tc.wantRespErr)
			}
			if err == nil && string(c.Type) != tc.wantResp {
				t.Errorf("ResponseCodec = %s, want %s", c.Type, tc.wantResp)
			}
		})
	}
}

func httpCode(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestIsTerminal(t *testing.T) {
	for s, want := range map[mesos.TaskState]bool{
		mesos.TASK_RUNNING: false, mesos.TASK_STAGING: false, mesos.TASK_UNREACHABLE: false,
		mesos.TASK_FINISHED: true, mesos.TASK_LOST: true, mesos.TASK_GONE_BY_OPERATOR: true,
	} {
		if IsTerminal(s) != want {
			t.Errorf("IsTerminal(%s) != %v", s, want)
		}
	}
}

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

func strp(s string) *string { return &s }
