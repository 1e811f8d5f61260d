package testenv

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/testenv/testsched"
)

// TestLoadCredentials: a credentials file gives principal → secret; an
// entry without a principal or secret, a principal twice (the last would
// silently win) or with ':' (basic auth cannot carry it) is an error naming
// the file, the entry and the principal, never a secret.
func TestLoadCredentials(t *testing.T) {
	tests := []struct {
		name, content string
		want          map[string]string
		err           string // after "FILE"; "" for none
	}{
		{"json", `{"credentials":[{"principal":"a","secret":"s3cret-a"},{"principal":"b","secret":"s3cret-b"}]}`, map[string]string{"a": "s3cret-a", "b": "s3cret-b"}, ""},
		{"text", "# comment\na s3cret-a\n\nb s3cret-b\n", map[string]string{"a": "s3cret-a", "b": "s3cret-b"}, ""},
		{"bad line", "a\n", nil, ":1: want \"principal secret\""},
		{"text, three fields", "a s3cret-a extra\n", nil, ":1: want \"principal secret\""},
		{"empty", "\n", nil, ": no credentials"},
		{"json, empty list", `{"credentials":[]}`, nil, ": no credentials"},
		{"json without principal", `{"credentials":[{"secret":"s3cret-a"}]}`, nil, ": credentials[0]: no principal"},
		{"json without secret", `{"credentials":[{"principal":"a","secret":"s3cret-a"},{"principal":"b"}]}`, nil, `: credentials[1]: principal "b" has no secret`},
		{"json, empty secret", `{"credentials":[{"principal":"a","secret":""}]}`, nil, `: credentials[0]: principal "a" has no secret`},
		{"json, duplicate principal", `{"credentials":[{"principal":"a","secret":"s3cret-a"},{"principal":"b","secret":"s3cret-b"},{"principal":"a","secret":"s3cret-c"}]}`, nil,
			`: credentials[2]: principal "a" is already given by credentials[0]`},
		{"text, duplicate principal", "a s3cret-a\n# b\nb s3cret-b\na s3cret-c\n", nil, `:4: principal "a" is already given by line 1`},
		{"json, principal with a colon", `{"credentials":[{"principal":"a:b","secret":"s3cret-a"}]}`, nil, `: credentials[0]: principal "a:b" contains ':'`},
		{"text, principal with a colon", "a:b s3cret-a\n", nil, `:1: principal "a:b" contains ':'`},
		{"json, secret with a colon", `{"credentials":[{"principal":"a","secret":"s3cret:a"}]}`, nil, `: credentials[0]: the secret of principal "a" contains ':'`},
		{"text, secret with a colon", "a s3cret:a\n", nil, `:1: the secret of principal "a" contains ':'`},
		{"json, numeric secret", `{"credentials":[{"principal":"a","secret":12345678}]}`, nil, ": not a credentials document: credentials.secret: a JSON number, want string"},
		{"json, syntax error in a secret", `{"credentials":[{"principal":"a","secret":"s3cret-a}]}`, nil, ": not a credentials document: invalid JSON at byte "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "creds")
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadCredentials(p)
			if tc.err == "" {
				if err != nil || !maps.Equal(got, tc.want) {
					t.Fatalf("got %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), p+tc.err) {
				t.Fatalf("err %v, want one starting %q", err, p+tc.err)
			}
			for _, secret := range []string{"s3cret", "12345678"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

// TestAuthenticate: with credentials, the scheduler API answers 401 to
// calls without them or with wrong ones, as libprocess' basic
// authenticator does (3rdparty/libprocess/src/authenticator.cpp: body
// "401 Unauthorized.", the realm of src/master/constants.hpp), and lets
// the right ones through (here to the 400 of an empty body).
func TestAuthenticate(t *testing.T) {
	cl := startCluster(t, Config{Credentials: map[string]string{"fw": "s3cret"}})
	tests := []struct {
		name, user, pass string
		want             int
		wantBody         string
	}{
		{"no credentials", "", "", http.StatusUnauthorized, "401 Unauthorized."},
		{"wrong secret", "fw", "nope", http.StatusUnauthorized, "401 Unauthorized."},
		{"unknown principal", "other", "s3cret", http.StatusUnauthorized, "401 Unauthorized."},
		{"right credentials", "fw", "s3cret", http.StatusBadRequest, "Failed to parse body into JSON: unexpected end of JSON input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", cl.MasterURL()+"/api/v1/scheduler", strings.NewReader(""))
			req.Header.Set("Content-Type", "application/json")
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, body := answer(t, req)
			if resp.StatusCode != tc.want || body != tc.wantBody {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, body, tc.want, tc.wantBody)
			}
			if got, want := resp.Header.Get("WWW-Authenticate"), `Basic realm="mesos-master-scheduler"`; tc.want == http.StatusUnauthorized && got != want {
				t.Errorf("challenge %q, want %q", got, want)
			}
		})
	}
}

// TestPrincipalMismatch follows validation::scheduler::call::validate
// (src/master/validation.cpp) and Master::Http::scheduler
// (src/master/http.cpp): a framework declaring a principal other than the
// one it authenticated as gets 400, not 403 — at SUBSCRIBE as a validation
// error, on later calls (after the framework lookup) without the prefix. A
// framework declaring none takes the authenticated one.
func TestPrincipalMismatch(t *testing.T) {
	cl := startCluster(t, Config{Credentials: map[string]string{"fw": "s3cret", "other": "pw2"}})
	mismatch := func(authenticated, declared string) string {
		return "Authenticated principal '" + authenticated + "' does not match principal '" + declared + "' set in `FrameworkInfo`"
	}
	for _, tc := range []struct {
		name, declared string
		want           int
		wantBody       string
	}{
		{"same principal", "fw", http.StatusOK, ""},
		{"no principal declared", "", http.StatusOK, ""},
		{"another principal", "other", http.StatusBadRequest, "Failed to validate scheduler::Call: " + mismatch("fw", "other")},
	} {
		t.Run("subscribe, "+tc.name, func(t *testing.T) {
			principal := ""
			if tc.declared != "" {
				principal = `,"principal":"` + tc.declared + `"`
			}
			body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"authz"` + principal + `}}}`
			req, _ := http.NewRequest("POST", cl.MasterURL()+"/api/v1/scheduler", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			req.SetBasicAuth("fw", "s3cret")
			resp, got := answer(t, req) // closes a subscription stream, too
			if resp.StatusCode != tc.want || got != tc.wantBody {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, got, tc.want, tc.wantBody)
			}
		})
	}

	t.Run("later calls", func(t *testing.T) {
		s := &sched{testsched.Subscribe(t, cl.MasterURL(), frameworkInfo("takes-principal"),
			testsched.Options{Codec: jsonCodec, Wait: waitLong, Principal: "fw", Secret: "s3cret"})}
		if got := principalInState(t, cl, s.FrameworkID); got != "fw" {
			t.Errorf("/state gives the framework principal %q, want the authenticated %q", got, "fw")
		}
		revive := []byte(`{"type":"REVIVE","framework_id":{"value":"` + s.FrameworkID + `"}}`)
		for _, tc := range []struct {
			name, user, pass string
			body             []byte
			want             int
			wantBody         string
		}{
			{"another principal", "other", "pw2", revive, http.StatusBadRequest, mismatch("other", "fw")},
			// The framework lookup comes first.
			{"another principal, unknown framework", "other", "pw2", []byte(`{"type":"REVIVE","framework_id":{"value":"nope"}}`), http.StatusBadRequest, "Framework cannot be found"},
			{"its principal", "fw", "s3cret", revive, http.StatusAccepted, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest("POST", cl.MasterURL()+"/api/v1/scheduler", bytes.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Mesos-Stream-Id", streamIDOf(t, cl, s.FrameworkID))
				req.SetBasicAuth(tc.user, tc.pass)
				resp, got := answer(t, req)
				if resp.StatusCode != tc.want || got != tc.wantBody {
					t.Errorf("%d %q, want %d %q", resp.StatusCode, got, tc.want, tc.wantBody)
				}
			})
		}
	})
}

// principalInState is framework fid's principal in the master's /state.
func principalInState(t *testing.T, cl *Cluster, fid string) string {
	t.Helper()
	var state struct {
		Frameworks []struct {
			ID        string `json:"id"`
			Principal string `json:"principal"`
		} `json:"frameworks"`
	}
	if err := json.Unmarshal(get(t, cl.MasterURL()+"/state"), &state); err != nil {
		t.Fatal(err)
	}
	for _, fw := range state.Frameworks {
		if fw.ID == fid {
			return fw.Principal
		}
	}
	t.Fatalf("framework %s not in /state", fid)
	return ""
}
