package schedulerlite

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFlagErrorsNameTheSource checks that errors about the flags checked
// before the scheduler starts, and about the local cluster's, name the flag
// or the environment variable that gave the value, whichever the user used.
func TestFlagErrorsNameTheSource(t *testing.T) {
	svc := filepath.Join(t.TempDir(), "svc.yml")
	if err := os.WriteFile(svc, []byte("name: flags\npods:\n  p:\n    count: 1\n    tasks:\n      t: {goal: RUNNING, cmd: sleep 100, cpus: 0.1, memory: 32}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"SCHEDULER_LITE_ARTIFACTS_DIR=" + t.TempDir(), "SCHEDULER_LITE_API_LISTEN=127.0.0.1:0"}
	for _, tc := range []struct {
		flag, env, value string
		want             string // the error after "SOURCE: "
	}{
		{"backoff-initial", "SCHEDULER_LITE_BACKOFF_INITIAL", "0s", "0s, want a positive duration"},
		{"backoff-max", "SCHEDULER_LITE_BACKOFF_MAX", "500ms", "500ms is shorter than --backoff-initial (1s)"},
		{"tls-key-type", "SCHEDULER_LITE_TLS_KEY_TYPE", "dsa", ""},
		{"local-ports", "SCHEDULER_LITE_LOCAL_PORTS", "nope", `invalid port range "nope"`},
		{"local-agents", "SCHEDULER_LITE_LOCAL_AGENTS", "300", "300 is out of range 1..250"},
	} {
		for _, viaEnv := range []bool{false, true} {
			args, env, source := []string{"scheduler-lite", "--" + tc.flag, tc.value, svc}, base, "--"+tc.flag
			if viaEnv {
				args, env, source = []string{"scheduler-lite", svc}, append(slices.Clone(base), tc.env+"="+tc.value), tc.env
			}
			var out, errb strings.Builder
			code := Run(context.Background(), args, env, nil, &out, &errb)
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			want := "scheduler-lite: " + source + ": " + tc.want
			if code != ExitUsage || !strings.HasPrefix(lines[len(lines)-1], want) {
				t.Errorf("%s=%s: exit %d (want %d), the error does not start with %q:\n%s", source, tc.value, code, ExitUsage, want, errb.String())
			}
		}
	}
}
