package testenv

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadCredentials(t *testing.T) {
	tests := []struct {
		name, content string
		want          map[string]string
		err           bool
	}{
		{"json", `{"credentials":[{"principal":"a","secret":"x"},{"principal":"b","secret":"y"}]}`, map[string]string{"a": "x", "b": "y"}, false},
		{"text", "# comment\na x\n\nb y\n", map[string]string{"a": "x", "b": "y"}, false},
		{"bad line", "a\n", nil, true},
		{"empty", "\n", nil, true},
		{"json without principal", `{"credentials":[{"secret":"x"}]}`, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "creds")
			os.WriteFile(p, []byte(tc.content), 0o600)
			got, err := LoadCredentials(p)
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			if err != nil && (strings.Contains(err.Error(), "x") && tc.name == "json without principal") {
				t.Errorf("error shows the secret: %v", err)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: %q", k, got[k])
				}
			}
		})
	}
}

// TestAuthenticate: with credentials, the scheduler API answers 401 to
// calls without them or with wrong ones, and lets the right ones through
// (here to the 400 of an empty body).
func TestAuthenticate(t *testing.T) {
	cl := startCluster(t, Config{Credentials: map[string]string{"fw": "s3cret"}})
	tests := []struct {
		name, user, pass string
		want             int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong secret", "fw", "nope", http.StatusUnauthorized},
		{"unknown principal", "other", "s3cret", http.StatusUnauthorized},
		{"right credentials", "fw", "s3cret", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", cl.MasterURL()+"/api/v1/scheduler", strings.NewReader(""))
			req.Header.Set("Content-Type", "application/json")
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("no challenge")
			}
		})
	}
}

// TestAuthorizePrincipal: an authenticated framework must declare the
// principal it authenticated as (or none), as a Mesos master requires.
func TestAuthorizePrincipal(t *testing.T) {
	cl := startCluster(t, Config{Credentials: map[string]string{"fw": "s3cret", "other": "pw2"}})
	for _, tc := range []struct {
		name, declared string
		want           int
	}{
		{"same principal", "fw", http.StatusOK},
		{"no principal declared", "", http.StatusOK},
		{"another principal", "other", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			principal := ""
			if tc.declared != "" {
				principal = `,"principal":"` + tc.declared + `"`
			}
			body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"authz"` + principal + `}}}`
			req, _ := http.NewRequest("POST", cl.MasterURL()+"/api/v1/scheduler", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			req.SetBasicAuth("fw", "s3cret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close() // ends a subscription stream, too
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
