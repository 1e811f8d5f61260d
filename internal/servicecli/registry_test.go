package servicecli

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runtimeDir points RegistryDir at a fresh directory of the test's.
func runtimeDir(t *testing.T) string {
	d := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", d)
	return filepath.Join(d, "taskkit", "scheduler-lite")
}

func TestRegistry(t *testing.T) {
	dir := runtimeDir(t)
	if _, err := lookup("hello-world"); !errors.Is(err, errNotRegistered) {
		t.Fatalf("empty registry: %v", err)
	}
	reg, err := Register("/folder/hello-world", "http://127.0.0.1:1234", "token")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if base := filepath.Base(reg.Path); !strings.HasPrefix(base, "folder__hello-world-") || filepath.Dir(reg.Path) != dir {
		t.Errorf("registration file %s", reg.Path)
	}
	if st, _ := os.Stat(reg.Path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	e, err := lookup("/folder/hello-world")
	wd, _ := os.Getwd()
	if err != nil || e.URL != "http://127.0.0.1:1234" || e.PID != os.Getpid() || e.TokenFile != filepath.Join(wd, "token") {
		t.Fatalf("lookup: %+v %v", e, err)
	}
	if _, err := lookup("other"); !errors.Is(err, errNotRegistered) || !strings.Contains(err.Error(), "/folder/hello-world") {
		t.Errorf("another name: %v", err)
	}

	// A second instance under the same name: Lookup does not choose.
	reg2, err := Register("/folder/hello-world", "http://127.0.0.1:5678", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lookup("/folder/hello-world"); !errors.Is(err, errAmbiguous) || !strings.Contains(err.Error(), "http://127.0.0.1:5678") {
		t.Errorf("two instances: %v", err)
	}
	reg2.Close()
	reg2.Close() // twice is fine

	// A registration whose process died (no lock held) is ignored and
	// removed, as after a kill -9.
	stale := filepath.Join(dir, "stale-0.json")
	os.WriteFile(stale, []byte(`{"name":"/folder/hello-world","url":"http://127.0.0.1:9","pid":1}`), 0o600)
	if e, err := lookup("/folder/hello-world"); err != nil || e.URL != "http://127.0.0.1:1234" {
		t.Errorf("with a stale file: %+v %v", e, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale registration kept: %v", err)
	}

	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("left after Close: %v", left)
	}
}

// TestRegistryRefusesOpenDirectory: a registration decides where the token
// goes, so a directory others can write is refused.
func TestRegistryRefusesOpenDirectory(t *testing.T) {
	dir := runtimeDir(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	if _, err := Register("x", "http://127.0.0.1:1", ""); err == nil || !strings.Contains(err.Error(), "lets others in") {
		t.Errorf("Register: %v", err)
	}
	if _, err := lookup("x"); err == nil || !strings.Contains(err.Error(), "lets others in") {
		t.Errorf("lookup: %v", err)
	}
}

func TestRegistryDirFallback(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", t.TempDir())
	d, err := RegistryDir()
	if err != nil {
		t.Fatal(err)
	}
	top := filepath.Dir(d)
	if st, err := os.Stat(top); err != nil || st.Mode().Perm() != 0o700 || !strings.HasPrefix(filepath.Base(top), "taskkit-") {
		t.Errorf("fallback %s: %v %v", d, st.Mode(), err)
	}
}

func TestPermute(t *testing.T) {
	valued := map[string]bool{"url": true, "p": true, "params": true, "json": false, "wait": true}
	for i, c := range []struct {
		in   []string
		sub  bool // the group has commands: show, start, list
		want []string
	}{
		{[]string{"show", "deploy", "--json"}, true, []string{"show", "--json", "--", "deploy"}},
		{[]string{"--url", "U", "show", "deploy"}, true, []string{"show", "--url", "U", "--", "deploy"}},
		{[]string{"start", "job", "-p", "A=B", "-p", "C=D=E"}, true, []string{"start", "-p", "A=B", "-p", "C=D=E", "--", "job"}},
		{[]string{"show", "--wait=COMPLETE", "deploy"}, true, []string{"show", "--wait=COMPLETE", "--", "deploy"}},
		{[]string{"show", "--", "--odd-name"}, true, []string{"show", "--", "--odd-name"}},
		{[]string{"http", "--json"}, false, []string{"--json", "--", "http"}},
		{[]string{"--json"}, false, []string{"--json"}},
		{[]string{"list"}, true, []string{"list"}},
		// A valued flag as the last word goes last, the arguments left out: the parser reports the missing value.
		{[]string{"show", "deploy", "--url"}, true, []string{"show", "--url"}},
		{[]string{"start", "job", "--json", "-p"}, true, []string{"start", "--json", "-p"}},
		{[]string{"http", "--url"}, false, []string{"--url"}},
		{[]string{"show", "--url", "--"}, true, []string{"show", "--url", "--"}}, // "--" is the value, as for the flag package
		{nil, true, nil},
		// Subcommands but none named: the flags the subcommands have are
		// left out, the group says what is missing; help and the flags
		// no subcommand has stay alone.
		{[]string{"--url", "U"}, true, nil},
		{[]string{"--json", "--url=U", "--wait"}, true, nil},
		{[]string{"--url", "U", "--help"}, true, []string{"--help"}},
		{[]string{"--url", "U", "--bogus", "-x=1"}, true, []string{"--bogus", "-x=1"}},
		{[]string{"--url", "U"}, false, []string{"--url", "U"}},
		// A flag no subcommand has before a first word naming none: the
		// group calls the flag unknown (the word may be its value); before
		// a command's name, the command does.
		{[]string{"--master", "M", "list"}, true, []string{"--master"}},
		{[]string{"--master", "list"}, true, []string{"list", "--master"}},
		{[]string{"--url", "U", "nope"}, true, []string{"nope", "--url", "U"}},
		// The help word takes command names only.
		{[]string{"help", "show", "deploy", "--json"}, true, []string{"help", "show", "deploy"}},
		{[]string{"--url", "U", "help"}, true, []string{"help"}},
	} {
		var commands []string
		if c.sub {
			commands = []string{"show", "start", "list"}
		}
		if got := permute(c.in, valued, commands); !slices.Equal(got, c.want) {
			t.Errorf("%d: permute(%q) = %q, want %q", i, c.in, got, c.want)
		}
	}
}
