package api

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/store"
)

// TestStateFiles runs the SDK's state files API against a real bbolt store:
// the answers and limits of StateQueries, in order.
func TestStateFiles(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetProperties(map[string][]byte{"ca.key": []byte("not a file")}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{Files: st}).Handler())
	defer srv.Close()

	form := func(field string, content []byte) (string, io.Reader) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile(field, "upload")
		fw.Write(content)
		mw.Close()
		return mw.FormDataContentType(), &b
	}
	kb := bytes.Repeat([]byte("x"), StateFileMax)
	for _, tc := range []struct {
		name, method, path string
		body               func() (string, io.Reader)
		code               int
		want               string
	}{
		{"empty list", "GET", "/v1/state/files", nil, 200, "[]"},
		{"missing file", "GET", "/v1/state/files/VERSION", nil, 404, "Failed to get the file"},
		{"put", "PUT", "/v1/state/files/VERSION", func() (string, io.Reader) { return form("file", []byte("namespaceID=42\n")) }, 200, ""},
		{"get", "GET", "/v1/state/files/VERSION", nil, 200, "namespaceID=42\n"},
		{"1 KiB is the limit", "PUT", "/v1/state/files/big", func() (string, io.Reader) { return form("file", kb) }, 200, ""},
		{"one byte more", "PUT", "/v1/state/files/big", func() (string, io.Reader) { return form("file", append(kb, 'x')) }, 400, "Stream exceeds 1024 byte size limit"},
		{"the refused upload changed nothing", "GET", "/v1/state/files/big", nil, 200, string(kb)},
		{"another field", "PUT", "/v1/state/files/other", func() (string, io.Reader) { return form("data", []byte("x")) }, 400, "Missing payload"},
		{"not multipart", "PUT", "/v1/state/files/other", func() (string, io.Reader) { return "text/plain", strings.NewReader("x") }, 415, "want multipart/form-data"},
		{"a name with a slash", "PUT", "/v1/state/files/a%2Fb", func() (string, io.Reader) { return form("file", []byte("x")) }, 400, "cannot contain '/'"},
		{"replace", "PUT", "/v1/state/files/VERSION", func() (string, io.Reader) { return form("file", []byte("namespaceID=43\n")) }, 200, ""},
		{"list", "GET", "/v1/state/files", nil, 200, "[VERSION, big]"},
		{"other properties are not files", "GET", "/v1/state/files/ca.key", nil, 404, "Failed to get the file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if tc.body != nil {
				var ct string
				ct, body = tc.body()
				req, _ = http.NewRequest(tc.method, srv.URL+tc.path, body)
				req.Header.Set("Content-Type", ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) || (tc.want == "" && len(b) != 0) {
				t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.want)
			}
			if ct := resp.Header.Get("Content-Type"); len(b) > 0 && !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("content type %q", ct)
			}
		})
	}

	// HDFS's journal node, as its svc.yml runs it.
	t.Run("curl", func(t *testing.T) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Skip("curl is not installed")
		}
		f := filepath.Join(t.TempDir(), "VERSION")
		os.WriteFile(f, []byte("clusterID=cid\n"), 0o644)
		if out, err := exec.Command(curl, "-sS", "-f", "-X", "PUT", "-F", "file=@"+f, srv.URL+"/v1/state/files/VERSION").CombinedOutput(); err != nil {
			t.Fatalf("curl PUT: %v %s", err, out)
		}
		out, err := exec.Command(curl, "-sS", "-f", srv.URL+"/v1/state/files/VERSION").Output()
		if err != nil || string(out) != "clusterID=cid\n" {
			t.Errorf("curl GET: %q %v", out, err)
		}
	})

	t.Run("no store", func(t *testing.T) {
		rec := httptest.NewRecorder()
		(&Server{}).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/state/files", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
}
