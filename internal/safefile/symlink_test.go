package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWritesThroughSymlinks: a destination that is a symbolic link stays
// one, and the file it leads to gets the content, whatever the mode. The
// rename replaced the link by a regular file and left its target stale
// (in place, the same write went through the link: two behaviours for one
// destination), where the DC/OS SDK bootstrap's in-place write follows it
// (ansible's template module users met the same: performancecopilot/ansible-pcp#32).
func TestWritesThroughSymlinks(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string) // makes dir/dest
		target string                         // relative to dir: the file that must get the data
		old    string                         // its content before, "" when new
	}{
		{"relative link", func(t *testing.T, dir string) {
			mkfile(t, filepath.Join(dir, "real", "app.conf"), "old")
			symlink(t, "real/app.conf", filepath.Join(dir, "dest"))
		}, "real/app.conf", "old"},
		{"absolute link", func(t *testing.T, dir string) {
			mkfile(t, filepath.Join(dir, "abs.conf"), "old")
			symlink(t, filepath.Join(dir, "abs.conf"), filepath.Join(dir, "dest"))
		}, "abs.conf", "old"},
		{"chain of links", func(t *testing.T, dir string) {
			mkfile(t, filepath.Join(dir, "c", "final"), "old")
			symlink(t, "c/mid", filepath.Join(dir, "dest"))
			symlink(t, "final", filepath.Join(dir, "c", "mid")) // relative to c/
		}, "c/final", "old"},
		{"link in a linked directory, relative to its real directory", func(t *testing.T, dir string) {
			mkfile(t, filepath.Join(dir, "data", "v1", "app.conf"), "old")
			os.MkdirAll(filepath.Join(dir, "data", "cur"), 0o755)
			symlink(t, "../v1/app.conf", filepath.Join(dir, "data", "cur", "app.conf"))
			symlink(t, "data/cur", filepath.Join(dir, "dest.d"))
			os.Symlink("dest.d/app.conf", filepath.Join(dir, "dest"))
		}, "data/v1/app.conf", "old"},
		{"link going up through a linked directory, as open(2) does", func(t *testing.T, dir string) {
			// current -> releases/v3, so current/.. is releases, not dir:
			// a lexical clean wrote dir/shared/app.conf, a file the link
			// does not lead to, and left the one it does stale.
			mkfile(t, filepath.Join(dir, "releases", "shared", "app.conf"), "old")
			os.MkdirAll(filepath.Join(dir, "releases", "v3"), 0o755)
			symlink(t, "releases/v3", filepath.Join(dir, "current"))
			symlink(t, "current/../shared/app.conf", filepath.Join(dir, "dest"))
		}, "releases/shared/app.conf", "old"},
		{"dangling link creates its target", func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, "real"), 0o755)
			symlink(t, "real/new.conf", filepath.Join(dir, "dest"))
		}, "real/new.conf", ""},
	}
	for _, mode := range []Mode{Auto, Rename, InPlace} {
		for _, tt := range tests {
			t.Run(mode.String()+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				tt.setup(t, dir)
				dest := filepath.Join(dir, "dest")
				link, _ := os.Readlink(dest)
				res, err := Write(File{Path: dest, Data: []byte("new"), Perm: 0o640, KeepPerm: true, Mode: mode})
				if err != nil {
					t.Fatal(err)
				}
				if res.Path != dest || !res.Changed || res.Existed != (tt.old != "") {
					t.Errorf("result %+v", res)
				}
				if got, _ := os.Readlink(dest); got != link {
					t.Errorf("the link now reads %q, want %q (replaced by a regular file?)", got, link)
				}
				if b, err := os.ReadFile(filepath.Join(dir, tt.target)); err != nil || string(b) != "new" {
					t.Errorf("target %s = %q, %v; want the new content", tt.target, b, err)
				}
				// Nothing stray next to the link or the target.
				for _, d := range []string{dir, filepath.Dir(filepath.Join(dir, tt.target))} {
					if m, _ := filepath.Glob(filepath.Join(d, ".*.tmp-*")); len(m) != 0 {
						t.Errorf("temporary files left: %v", m)
					}
				}
				if err := CheckWritable([]File{{Path: dest, Mode: mode}}); err != nil {
					t.Errorf("CheckWritable: %v", err)
				}
			})
		}
	}
}

func TestSymlinkLoop(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	symlink(t, "b", a)
	symlink(t, "a", b)
	if _, err := Write(File{Path: a, Data: []byte("x"), Perm: 0o644}); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("Write through a loop: %v, want ELOOP", err)
	}
	if err := CheckWritable([]File{{Path: a}}); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("CheckWritable through a loop: %v, want ELOOP", err)
	}
}

func mkfile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestOneFileTwiceInASet: two files of one set that are one file (the
// same path, or a link to it) are refused, and nothing is written.
func TestOneFileTwiceInASet(t *testing.T) {
	dir := t.TempDir()
	symlink(t, "a", filepath.Join(dir, "link"))
	for _, second := range []string{"a", "./a", "link"} {
		_, err := WriteAll([]File{
			{Path: filepath.Join(dir, "a"), Data: []byte("1"), Perm: 0o644},
			{Path: filepath.Join(dir, second), Data: []byte("2"), Perm: 0o644},
		})
		if err == nil {
			t.Errorf("a, %s: no error", second)
		}
		if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a, %s: a was written", second)
		}
	}
}

// TestWithin: a File with Within is refused, by CheckWritable and by the
// write itself, when a symbolic link leads it out of that directory, and
// nothing is written there.
func TestWithin(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, in, out string) // in: the Within directory
		dest    string                             // relative to in
		outside bool
	}{
		{"plain file", func(t *testing.T, in, out string) {}, "a.conf", false},
		{"link inside", func(t *testing.T, in, out string) { symlink(t, "real.conf", filepath.Join(in, "a.conf")) }, "a.conf", false},
		{"link to a file outside", func(t *testing.T, in, out string) {
			mkfile(t, filepath.Join(out, "a.conf"), "theirs")
			symlink(t, filepath.Join(out, "a.conf"), filepath.Join(in, "a.conf"))
		}, "a.conf", true},
		{"dangling link outside", func(t *testing.T, in, out string) { symlink(t, "../out/a.conf", filepath.Join(in, "a.conf")) }, "a.conf", true},
		{"linked directory outside", func(t *testing.T, in, out string) { symlink(t, out, filepath.Join(in, "d")) }, "d/a.conf", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			in, out := filepath.Join(top, "in"), filepath.Join(top, "out")
			os.MkdirAll(in, 0o755)
			os.MkdirAll(out, 0o755)
			tt.setup(t, in, out)
			f := File{Path: filepath.Join(in, tt.dest), Data: []byte("secret"), Perm: 0o600, Within: in}
			cerr := CheckWritable([]File{f})
			_, werr := Write(f)
			var oe *OutsideError
			if got := errors.As(cerr, &oe); got != tt.outside {
				t.Errorf("CheckWritable: %v, want outside %v", cerr, tt.outside)
			}
			if got := errors.As(werr, &oe); got != tt.outside {
				t.Errorf("Write: %v, want outside %v", werr, tt.outside)
			}
			if b, _ := os.ReadFile(filepath.Join(out, "a.conf")); string(b) == "secret" {
				t.Error("written outside Within")
			}
		})
	}
}

// TestWithinNotYetThere: Within may not exist yet (tlsprov creates --dir)
// and lie under a linked directory (/var/run -> /run): its file is inside
// it. The root was resolved only when it existed, so the file (resolved)
// and the root (not) differed and every write was refused as outside.
func TestWithinNotYetThere(t *testing.T) {
	top := t.TempDir()
	os.MkdirAll(filepath.Join(top, "real"), 0o755)
	symlink(t, "real", filepath.Join(top, "run"))
	in := filepath.Join(top, "run", "secrets", "tls")
	f := File{Path: filepath.Join(in, "s.key"), Data: []byte("secret"), Perm: 0o600, Within: in}
	if err := CheckWritable([]File{f}); err != nil {
		t.Errorf("CheckWritable: %v", err)
	}
	if _, err := Write(f); err != nil {
		t.Errorf("Write: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(top, "real", "secrets", "tls", "s.key")); string(b) != "secret" {
		t.Errorf("not written where the link leads")
	}
}

// TestLinkMadeBeforeCommit: the file judged (Target, Within) is the file
// written. Between prepareAll and commit (the fsyncs of a set), the
// destination replaced by a link to a file elsewhere made the in-place
// write follow it: the data, a secret, went there. The in-place open no
// longer follows a link; the rename never did (it replaces the link).
func TestLinkMadeBeforeCommit(t *testing.T) {
	for _, mode := range []Mode{InPlace, Rename} {
		t.Run(mode.String(), func(t *testing.T) {
			top := t.TempDir()
			in, out := filepath.Join(top, "in"), filepath.Join(top, "out")
			mkfile(t, filepath.Join(in, "a.key"), "old")
			mkfile(t, filepath.Join(out, "a.key"), "theirs")
			plans, err := prepareAll([]File{{Path: filepath.Join(in, "a.key"), Data: []byte("secret"), Perm: 0o600, Mode: mode, Within: in}})
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup(plans)
			os.Remove(filepath.Join(in, "a.key"))
			symlink(t, filepath.Join(out, "a.key"), filepath.Join(in, "a.key"))
			_ = commit(plans[0])
			if b, _ := os.ReadFile(filepath.Join(out, "a.key")); string(b) != "theirs" {
				t.Errorf("the file the new link leads to was written: %q", b)
			}
		})
	}
}
