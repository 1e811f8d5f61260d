package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/taskkit/taskkit/internal/taskenv"
)

// TestArtifactsServeOnlyTheToolkit: the artifacts directory is the
// scheduler's sandbox under the Universe package, holding its secret
// mounts, svc.yml, logs and state store next to the binaries. Only the
// toolkit's binaries and the files the service's svc.yml fetches from
// ARTIFACTS_URL download; every other file there is 404, by any spelling
// of its name.
func TestArtifactsServeOnlyTheToolkit(t *testing.T) {
	dir := t.TempDir()
	for _, name := range append([]string{"scheduler-lite"}, taskenv.Artifacts...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("binary "+name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	others := []string{"api-token", "principal-secret", "svc.yml", "state.db", "stdout", "stderr", "scheduler-lite", ".hidden", "bootstrap.zip", "Bootstrap"}
	for _, name := range others {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("SECRET-"+name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "bootstrap"), []byte("SECRET-sub"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello-world.tar.gz"), []byte("the service's own"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&Server{ArtifactsDir: dir, ServiceArtifacts: []string{"hello-world.tar.gz"}}).Handler())
	t.Cleanup(srv.Close)

	for _, name := range taskenv.Artifacts {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			code, hdr, body := call(t, method, srv.URL+taskenv.ArtifactBinPath+name)
			if code != http.StatusOK || hdr.Get("Content-Type") != "application/octet-stream" || (method == http.MethodGet && body != "binary "+name) {
				t.Errorf("%s %s: %d %q %q, want 200 with the binary", method, name, code, hdr.Get("Content-Type"), body)
			}
		}
	}
	// The service's own artifact, which its svc.yml fetches from
	// ARTIFACTS_URL (the hello-world example's tarball), downloads too.
	if code, _, body := call(t, http.MethodGet, srv.URL+taskenv.ArtifactBinPath+"hello-world.tar.gz"); code != http.StatusOK || body != "the service's own" {
		t.Errorf("service artifact: %d %q", code, body)
	}
	var paths []string
	for _, name := range others {
		paths = append(paths, url.PathEscape(name), "./"+name, "%2E%2F"+url.PathEscape(name), name+"%00", "bootstrap%2F..%2F"+name)
	}
	paths = append(paths, "sub%2Fbootstrap", "..%2Fstate.db", "", ".", "%2E")
	for _, p := range paths {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			code, _, body := call(t, method, srv.URL+taskenv.ArtifactBinPath+p)
			if code != http.StatusNotFound {
				t.Errorf("%s %s: %d %q, want 404", method, p, code, body)
			}
		}
	}
}
