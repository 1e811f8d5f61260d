package servicecli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestPlanStartParams: plan start's -p KEY=VAL is one parameter whatever
// its value holds, commas and "=" included (-p LIST=a,b), as the SDK CLI's
// kingpin Strings flag and getPlanParameterPayload take it; urfave/cli
// split it at commas ("-p LIST=a,b" was refused for "b", "-p
// LIST=a,B=c" sent two parameters). The variable is KEY=VAL pairs split at
// commas. An error names the flag as it was typed (-p, --params, -params)
// or the variable, never --params for a -p. Served on loopback, the body
// each start sent is checked.
func TestPlanStartParams(t *testing.T) {
	var mu sync.Mutex
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		body = string(b)
		mu.Unlock()
		io.WriteString(w, `{"message":"Received cmd: start"}`)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		env    []string
		args   []string
		code   int
		body   map[string]string // the start's JSON body; nil for none sent
		stderr string            // its start
	}{
		{args: []string{"-p", "LIST=a,b"}, body: map[string]string{"LIST": "a,b"}},
		{args: []string{"-p", "LIST=a,B=c"}, body: map[string]string{"LIST": "a,B=c"}},
		{args: []string{"-p", "A=1", "-p", "B=x=y", "-p", "EMPTY="}, body: map[string]string{"A": "1", "B": "x=y", "EMPTY": ""}},
		{args: []string{"--params", "A=1,2"}, body: map[string]string{"A": "1,2"}},
		{env: []string{"SCHEDULER_LITE_PLAN_PARAMS=A=1,B=2"}, body: map[string]string{"A": "1", "B": "2"}},
		{args: []string{"-p", "FOO"}, code: ExitUsage, stderr: `scheduler-lite plan start: -p "FOO": want KEY=VAL` + "\nusage: scheduler-lite plan start PLAN [-p KEY=VAL]..."},
		{args: []string{"-p=FOO"}, code: ExitUsage, stderr: `scheduler-lite plan start: -p "FOO": want KEY=VAL`},
		{args: []string{"--params", "=x"}, code: ExitUsage, stderr: `scheduler-lite plan start: --params "=x": want KEY=VAL`},
		{args: []string{"-params", "FOO"}, code: ExitUsage, stderr: `scheduler-lite plan start: -params "FOO": want KEY=VAL`},
		{args: []string{"-p", "A=1,FOO"}, body: map[string]string{"A": "1,FOO"}},
		{env: []string{"SCHEDULER_LITE_PLAN_PARAMS=A=1,FOO"}, code: ExitUsage, stderr: `scheduler-lite plan start: SCHEDULER_LITE_PLAN_PARAMS "FOO": want KEY=VAL`},
		{env: []string{"SCHEDULER_LITE_PLAN_PARAMS=FOO"}, args: []string{"-p", "A=1"}, body: map[string]string{"A": "1"}}, // the command line wins
	} {
		mu.Lock()
		body = "unsent"
		mu.Unlock()
		environ := append([]string{"XDG_RUNTIME_DIR=" + t.TempDir()}, tc.env...)
		args := append([]string{"plan", "start", "greet", "--url", srv.URL}, tc.args...)
		code, stderr := runCommand(t, environ, args...)
		mu.Lock()
		sent := body
		mu.Unlock()
		what := strings.Join(append(tc.env, args...), " ")
		if code != tc.code || !strings.HasPrefix(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d, stderr starting %q", what, code, stderr, tc.code, tc.stderr)
		}
		if tc.body == nil {
			if sent != "unsent" {
				t.Errorf("%s: sent %s", what, sent)
			}
			continue
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(sent), &got); err != nil || len(got) != len(tc.body) {
			t.Errorf("%s: sent %s, want %v", what, sent, tc.body)
			continue
		}
		for k, v := range tc.body {
			if got[k] != v {
				t.Errorf("%s: sent %s, want %v", what, sent, tc.body)
			}
		}
	}
}
