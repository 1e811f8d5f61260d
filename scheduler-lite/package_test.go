package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/schedulerlite"
)

// TestPackageRender runs "scheduler-lite package render" on the example
// package: defaults, an options file, bad options, usage errors.
func TestPackageRender(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"service": {"name": "hello-2"}, "hello": {"count": 3}}`)
	bad := write("bad.json", `{"hello": {"count": "three"}, "service": {"colour": "red"}}`)
	notJSON := write("broken.json", "{\n  \"hello\": ,\n}")
	pkgJSONOnly := t.TempDir()
	if err := os.WriteFile(filepath.Join(pkgJSONOnly, "package.json"), []byte(`{"name": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		validApp bool
	}{
		{"defaults", []string{"render", "--package-dir", "../universe"}, 0, []string{`"id": "hello-world"`, `"path": "/v1/health"`, "releases/download/v0.1.0/scheduler-lite.zip"}, nil, true},
		{"options and artifact dir", []string{"render", "--package-dir", "../universe", "--options", good, "--artifact-dir", "http://127.0.0.1:8000/"}, 0, []string{`"id": "hello-2"`, `"HELLO_COUNT": "3"`, `"http://127.0.0.1:8000/executor.zip"`}, nil, true},
		{"bad options", []string{"render", "--package-dir", "../universe", "--options", bad}, 1, nil, []string{"hello.count: want integer, got string", `service: unknown property "colour"`}, false},
		{"options not JSON", []string{"render", "--package-dir", "../universe", "--options", notJSON}, 1, nil, []string{"--options: " + notJSON + ": line 2"}, false},
		{"no package.json", []string{"render", "--package-dir", dir}, 2, nil, []string{"--package-dir " + dir + ": not a Universe package", "package.json"}, false},
		{"package.json only", []string{"render", "--package-dir", pkgJSONOnly}, 1, nil, []string{"--package-dir " + pkgJSONOnly, "config.json"}, false},
		{"no command", nil, 2, nil, []string{"no command given (want render)"}, false},
		{"unknown command", []string{"publish"}, 2, nil, []string{`unknown command "publish"`}, false},
		{"stray argument", []string{"render", "--package-dir", "../universe", "x"}, 2, nil, []string{`unexpected argument "x"`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := schedulerlite.Run(context.Background(), append([]string{"scheduler-lite", "package"}, tc.args...), nil, nil, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			for _, w := range tc.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %s:\n%s", w, out.String())
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %s:\n%s", w, errb.String())
				}
			}
			if tc.validApp {
				var app map[string]any
				if err := json.Unmarshal(out.Bytes(), &app); err != nil {
					t.Errorf("stdout is not JSON: %v", err)
				}
			}
		})
	}
}

// TestPackageRenderUsageErrors: a flag of "package render" naming no
// readable options file, no package directory or no absolute URL is a
// usage error (exit 2) naming the flag or the variable that gave it, before
// anything is rendered.
func TestPackageRenderUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flag, env, value string
		want             string // in the error, after "SOURCE"
	}{
		{"options", "SCHEDULER_LITE_PACKAGE_OPTIONS", "/nonexistent", ": open /nonexistent: no such file or directory"},
		{"options", "SCHEDULER_LITE_PACKAGE_OPTIONS", dir, ": " + dir + ": not a regular file"},
		{"package-dir", "SCHEDULER_LITE_PACKAGE_DIR", "/nonexistent", ": stat /nonexistent: no such file or directory"},
		{"package-dir", "SCHEDULER_LITE_PACKAGE_DIR", file, " " + file + ": not a directory"},
		{"package-dir", "SCHEDULER_LITE_PACKAGE_DIR", dir, " " + dir + ": not a Universe package"},
		{"artifact-dir", "SCHEDULER_LITE_ARTIFACT_DIR", "dist", ` "dist": want an absolute URL`},
		{"artifact-dir", "SCHEDULER_LITE_ARTIFACT_DIR", "http:///dist", ` "http:///dist": want an absolute URL`},
	} {
		for _, viaEnv := range []bool{false, true} {
			args, env, source := []string{"scheduler-lite", "package", "render", "--package-dir", "../universe", "--" + tc.flag, tc.value}, []string(nil), "--"+tc.flag
			if viaEnv {
				args, env, source = []string{"scheduler-lite", "package", "render"}, []string{tc.env + "=" + tc.value}, tc.env
				if tc.flag != "package-dir" {
					args = append(args, "--package-dir", "../universe")
				}
			}
			var out, errb bytes.Buffer
			code := schedulerlite.Run(context.Background(), args, env, nil, &out, &errb)
			if code != schedulerlite.ExitUsage || !strings.Contains(errb.String(), source+tc.want) || out.Len() > 0 {
				t.Errorf("%s=%s: exit %d (want %d), stdout %q, stderr lacks %q:\n%s", source, tc.value, code, schedulerlite.ExitUsage, out.String(), source+tc.want, errb.String())
			}
		}
	}
}
