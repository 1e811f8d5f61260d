package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/schedulerlite"
)

// TestValidate runs "scheduler-lite validate" on the example service, with
// and without the package's environment, on a spec with several problems,
// and on usage errors.
func TestValidate(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "svc.yml")
	if err := os.WriteFile(bad, []byte("name: x\npods:\n  hello:\n    count: 1\n    tasks:\n      server:\n        cmd: true\n        cpus: 1\n        gpus: 1\n      server:\n        cmd: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "svc.yml")
	if err := os.WriteFile(missing, []byte("name: x\npods:\n  hello:\n    count: 1\n    uris: [\"{{ARTIFACTS_URL}}/x.tgz\"]\n    tasks:\n      server: {cmd: \"echo {{GREETING}}\", cpus: 0.1, memory: 32}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string
	}{
		// ARTIFACTS_URL is the scheduler's to set: no warning, and strict passes.
		{"valid", []string{"../examples/hello-world/svc.yml"}, 0, []string{"svc.yml: valid (configuration "}, nil},
		{"strict", []string{"--strict", "../examples/hello-world/svc.yml"}, 0, []string{"svc.yml: valid (configuration "}, nil},
		{"strict, a variable missing", []string{"--strict", missing}, 2, nil, []string{"missing variables: GREETING"}},
		{"a variable missing", []string{missing}, 0, []string{"valid"}, []string{"warning: variable GREETING is not set; rendered empty"}},
		{"with the package's environment", []string{"--package-dir", "../universe", "../examples/hello-world/svc.yml"}, 0, []string{"valid"}, nil},
		{"every problem", []string{bad}, 2, nil, []string{
			"2 problems:",
			"pods.hello.tasks.server.gpus: not supported by scheduler-lite (GPUs) (line 9)",
			"pods.hello.tasks.server: defined twice: first at line 6 (line 10)",
		}},
		{"print env", []string{"--package-dir", "../universe", "--print-env"}, 0, []string{"HELLO_COUNT=2\x00"}, nil},
		{"print env without a package", []string{"--print-env"}, 2, nil, []string{"--print-env needs --package-dir"}},
		{"no argument", nil, 2, nil, []string{"want one argument: the svc.yml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := schedulerlite.Run(context.Background(), append([]string{"scheduler-lite", "validate"}, tc.args...), nil, nil, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
}
