package fetcher

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sandboxfs"
)

// TestErrorsNameTheSandbox: the executor and testenv's agents fetch into a
// sandbox held open and named /proc/self/fd/N (sandboxfs.Dir.FDPath). Every
// failure must name the file by its path in the sandbox (the task sees
// the file there; an operator finds it there), never by /proc/self/fd,
// which names nothing once the fetch is over; and the returned path too.
func TestErrorsNameTheSandbox(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok.txt", "/dir/ok.txt":
			w.Write([]byte("ok"))
		case "/broken.tar.gz":
			w.Write([]byte("not gzip"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	bt := true
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, sandbox string) // what the sandbox holds before
		uri     mesos.CommandInfo_URI
		sub     string // fetch into this directory under the sandbox
		want    string // in the error after the sandbox's path; "" means no error
		outside bool   // the error wraps ErrOutside
	}{
		{"fetched", nil, mesos.CommandInfo_URI{Value: srv.URL + "/ok.txt"}, "", "", false},
		{"HTTP 404", nil, mesos.CommandInfo_URI{Value: srv.URL + "/missing"}, "", "/missing: HTTP 404", false},
		{"output_file under a file", func(t *testing.T, sb string) { write(t, filepath.Join(sb, "file"), "x") },
			mesos.CommandInfo_URI{Value: srv.URL + "/ok.txt", OutputFile: strp("file/ok.txt")}, "", "/file/ok.txt: creating its directory", false},
		{"output_file is a directory", func(t *testing.T, sb string) { mkdir(t, filepath.Join(sb, "d", "inner")) },
			mesos.CommandInfo_URI{Value: srv.URL + "/ok.txt", OutputFile: strp("d")}, "", "/d: ", false},
		{"broken archive", nil, mesos.CommandInfo_URI{Value: srv.URL + "/broken.tar.gz"}, "", "/broken.tar.gz: extracting", false},
		{"executable under a link", func(t *testing.T, sb string) { symlink(t, "/nonexistent", filepath.Join(sb, "l")) },
			mesos.CommandInfo_URI{Value: srv.URL + "/dir/ok.txt", OutputFile: strp("l/ok.txt"), Executable: &bt}, "", "/l/ok.txt: creating its directory", false},
		{"sandbox missing", nil, mesos.CommandInfo_URI{Value: srv.URL + "/ok.txt"}, "gone",
			"/gone/ok.txt: opening the sandbox: open " + "{real}/gone: no such file", false},
		{"missing local file", nil, mesos.CommandInfo_URI{Value: "/nonexistent/x.txt"}, "", "/x.txt: open /nonexistent/x.txt", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			real := t.TempDir()
			if tc.prepare != nil {
				tc.prepare(t, real)
			}
			d, err := sandboxfs.Open(real)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var f Fetcher
			into := d.FDPath()
			if tc.sub != "" {
				into += "/" + tc.sub
			}
			got, err := f.FetchOne(context.Background(), tc.uri, into)
			if tc.want == "" {
				if err != nil || !strings.HasPrefix(got, real+"/") {
					t.Fatalf("FetchOne = %q, %v; want a path in %s", got, err, real)
				}
				return
			}
			if err == nil {
				t.Fatalf("FetchOne = %q, want an error", got)
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "/proc/self/fd") {
				t.Errorf("the error names a /proc/self/fd path: %s", msg)
			}
			want := " into " + real + strings.ReplaceAll(tc.want, "{real}", real)
			if !strings.Contains(msg, want) {
				t.Errorf("the error does not name the file in the sandbox (%q): %s", want, msg)
			}
			if errors.Is(err, ErrOutside) != tc.outside {
				t.Errorf("errors.Is(err, ErrOutside) = %v, want %v", !tc.outside, tc.outside)
			}
		})
	}
}

// TestRenamePath: the fallback that says a /proc/self/fd path otherwise,
// whatever layer put it in the error, keeps the wrapped errors.
func TestRenamePath(t *testing.T) {
	for _, tc := range []struct {
		msg, from, shown, want string
	}{
		{"open /proc/self/fd/7: gone", "/proc/self/fd/7", "/sb", "open /sb: gone"},
		{"open /proc/self/fd/7/a/b and /proc/self/fd/7", "/proc/self/fd/7", "/sb", "open /sb/a/b and /sb"},
		{"open /proc/self/fd/70/a", "/proc/self/fd/7", "/sb", "open /proc/self/fd/70/a"},
		{"no path here", "/proc/self/fd/7", "/sb", "no path here"},
		{"open /plain/dir: x", "/plain/dir", "/plain/dir", "open /plain/dir: x"},
	} {
		err := renamePath(errors.Join(errors.New(tc.msg), ErrOutside), tc.from, tc.shown)
		if got, _, _ := strings.Cut(err.Error(), "\n"); got != tc.want {
			t.Errorf("renamePath(%q) = %q, want %q", tc.msg, got, tc.want)
		}
		if !errors.Is(err, ErrOutside) {
			t.Errorf("renamePath(%q) lost the wrapped error", tc.msg)
		}
	}
	for _, tc := range []struct{ in, fd, rest string }{
		{"/proc/self/fd/12", "12", ""}, {"/proc/self/fd/3/a/b", "3", "a/b"},
		{"/proc/self/fd/", "", ""}, {"/proc/self/fd/x", "", ""}, {"/srv/sandbox", "", ""},
	} {
		fd, rest, ok := splitFDPath(tc.in)
		if fd != tc.fd || rest != tc.rest || ok != (tc.fd != "") {
			t.Errorf("splitFDPath(%q) = %q, %q, %v", tc.in, fd, rest, ok)
		}
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}
