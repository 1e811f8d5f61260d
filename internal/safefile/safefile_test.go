package safefile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// entries lists every name under dir, to prove nothing stray was left.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	return names
}

func TestWriteNewFileCreatesDirsWithPerm(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "a", "b", "run.sh")
	res, err := Write(File{Path: dst, Data: []byte("#!/bin/sh\n"), Perm: 0o755, KeepPerm: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Existed || !res.Changed || res.Method != Rename {
		t.Errorf("result = %+v", res)
	}
	if got := mode(t, dst); got != 0o755 {
		t.Errorf("mode = %o, want 755", got)
	}
	if got := strings.Join(entries(t, dir), ","); got != "a,a/b,a/b/run.sh" {
		t.Errorf("tree = %s", got)
	}
}

func TestExistingFileKeepsModeOrTakesPerm(t *testing.T) {
	for _, tt := range []struct {
		name     string
		keep     bool
		wantMode os.FileMode
	}{
		{"keep", true, 0o640},
		{"force", false, 0o600},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "f")
			os.WriteFile(dst, []byte("old"), 0o640)
			os.Chmod(dst, 0o640)
			if _, err := Write(File{Path: dst, Data: []byte("new"), Perm: 0o600, KeepPerm: tt.keep}); err != nil {
				t.Fatal(err)
			}
			if got := mode(t, dst); got != tt.wantMode {
				t.Errorf("mode = %o, want %o", got, tt.wantMode)
			}
			if b, _ := os.ReadFile(dst); string(b) != "new" {
				t.Errorf("content = %q", b)
			}
		})
	}
}

func TestUnchangedIsNotRewritten(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "f")
	os.WriteFile(dst, []byte("same"), 0o644)
	before := inode(t, dst)
	res, err := Write(File{Path: dst, Data: []byte("same"), Perm: 0o644, KeepPerm: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || inode(t, dst) != before {
		t.Errorf("unchanged file was rewritten: %+v", res)
	}
}

func TestInPlaceKeepsInode(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "f")
	os.WriteFile(dst, []byte("old content"), 0o644)
	before := inode(t, dst)
	res, err := Write(File{Path: dst, Data: []byte("new"), Perm: 0o644, KeepPerm: true, Mode: InPlace})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != InPlace || inode(t, dst) != before {
		t.Errorf("in-place write replaced the inode: %+v", res)
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Errorf("content = %q", b)
	}
}

func TestAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.conf")
	os.WriteFile(existing, []byte("keep me"), 0o644)
	blocker := filepath.Join(dir, "blocker")
	os.WriteFile(blocker, nil, 0o644)
	os.Mkdir(filepath.Join(dir, "isdir"), 0o755)

	for _, tt := range []struct {
		name string
		bad  File
	}{
		{"parent is a file", File{Path: filepath.Join(blocker, "x.conf"), Perm: 0o644}},
		{"destination is a directory", File{Path: filepath.Join(dir, "isdir"), Perm: 0o644}},
		{"empty path", File{Perm: 0o644}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := strings.Join(entries(t, dir), ",")
			_, err := WriteAll([]File{
				{Path: filepath.Join(dir, "new", "deep", "a.conf"), Data: []byte("a"), Perm: 0o644},
				{Path: existing, Data: []byte("changed"), Perm: 0o644, KeepPerm: true},
				tt.bad,
			})
			if err == nil {
				t.Fatal("want an error")
			}
			if after := strings.Join(entries(t, dir), ","); after != before {
				t.Errorf("tree changed:\n before %s\n after  %s", before, after)
			}
			if b, _ := os.ReadFile(existing); string(b) != "keep me" {
				t.Errorf("existing file changed to %q", b)
			}
		})
	}
}

func TestRollbackAfterCommitFailure(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.conf")
	os.WriteFile(existing, []byte("keep me"), 0o644)
	fresh := filepath.Join(dir, "fresh.conf")
	late := filepath.Join(dir, "late", "x.conf")
	plans := make([]*plan, 0, 3)
	for _, f := range []File{
		{Path: existing, Data: []byte("changed"), Perm: 0o644, KeepPerm: true},
		{Path: fresh, Data: []byte("new"), Perm: 0o644},
		{Path: late, Data: []byte("new"), Perm: 0o644},
	} {
		p, err := prepare(f)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	// Commit the first two, then make the third fail by removing its directory.
	for _, p := range plans[:2] {
		if err := commit(p); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(filepath.Join(dir, "late"))
	if err := commit(plans[2]); err == nil {
		t.Fatal("want commit error")
	}
	rollback(plans)
	cleanup(plans)
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("existing not restored: %q", b)
	}
	if got := strings.Join(entries(t, dir), ","); got != "existing.conf" {
		t.Errorf("tree after rollback = %s", got)
	}
}

// TestBindMountedFileFallsBackInPlace needs root and mount(8); it is what a
// single file bind-mounted into a container looks like.
func TestBindMountedFileFallsBackInPlace(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "host.conf")
	dst := filepath.Join(dir, "container.conf")
	os.WriteFile(src, []byte("host"), 0o644)
	os.WriteFile(dst, []byte("placeholder"), 0o644)
	if out, err := exec.Command("mount", "--bind", src, dst).CombinedOutput(); err != nil {
		t.Skipf("SKIP: cannot bind-mount a file here (needs root and CAP_SYS_ADMIN): %v: %s", err, out)
	}
	defer exec.Command("umount", dst).Run()

	if _, err := Write(File{Path: dst, Data: []byte("rendered"), Perm: 0o644, Mode: Rename}); err == nil {
		t.Error("rename over a bind-mounted file should fail in Rename mode")
	}
	res, err := Write(File{Path: dst, Data: []byte("rendered"), Perm: 0o644, KeepPerm: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != InPlace {
		t.Errorf("method = %v, want inplace", res.Method)
	}
	if b, _ := os.ReadFile(src); string(b) != "rendered" {
		t.Errorf("host file = %q, want rendered", b)
	}
	if n := len(entries(t, dir)); n != 2 {
		t.Errorf("stray files left: %v", entries(t, dir))
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Auto, "auto": Auto, "rename": Rename, "inplace": InPlace, "IN-PLACE": InPlace} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseMode("copy"); err == nil {
		t.Error("ParseMode(copy) should fail")
	}
}

// withFileSizeLimit runs f with RLIMIT_FSIZE set to limit bytes, so writes
// past it fail with EFBIG (Go ignores SIGXFSZ).
func withFileSizeLimit(t *testing.T, limit uint64, f func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skipf("SKIP: cannot read RLIMIT_FSIZE: %v", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: old.Max}); err != nil {
		t.Skipf("SKIP: cannot set RLIMIT_FSIZE: %v", err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)
	f()
}

// TestDataThatDoesNotFitLeavesDestinationIntact: a write that fails for
// lack of room (EFBIG here, ENOSPC alike) must not fall back to truncating
// the destination in place, and an in-place write that fails midway must put
// the old content back.
func TestDataThatDoesNotFitLeavesDestinationIntact(t *testing.T) {
	old := strings.Repeat("o", 300)
	big := []byte(strings.Repeat("n", 3000))
	for _, m := range []Mode{Auto, InPlace} {
		t.Run(m.String(), func(t *testing.T) {
			dir := t.TempDir()
			dst := filepath.Join(dir, "out.conf")
			os.WriteFile(dst, []byte(old), 0o644)
			var err error
			withFileSizeLimit(t, 2048, func() {
				_, err = Write(File{Path: dst, Data: big, Perm: 0o644, KeepPerm: true, Mode: m})
			})
			if err == nil || !errors.Is(err, syscall.EFBIG) {
				t.Fatalf("err = %v, want EFBIG", err)
			}
			if b, _ := os.ReadFile(dst); string(b) != old {
				t.Errorf("destination now holds %d bytes, want the old 300 intact", len(b))
			}
			if got := strings.Join(entries(t, dir), ","); got != "out.conf" {
				t.Errorf("leftovers: %s", got)
			}
		})
	}
}

// TestCheckWritable: every reason a destination cannot be written is found
// without writing, creating or syncing anything.
func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "afile"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	root := os.Geteuid() == 0
	tests := []struct {
		name    string
		f       File
		wantErr string // "" for writable; ignored for permission rows as root
		perm    bool
	}{
		{name: "new file in an existing directory", f: File{Path: filepath.Join(dir, "new.conf")}},
		{name: "new file under missing directories", f: File{Path: filepath.Join(dir, "a", "b", "c.conf")}},
		{name: "existing file", f: File{Path: filepath.Join(dir, "afile")}},
		{name: "a directory as destination", f: File{Path: filepath.Join(dir, "adir")}, wantErr: "not a regular file"},
		{name: "a file where a directory must be", f: File{Path: filepath.Join(dir, "afile", "x.conf")}, wantErr: "is not a directory"},
		{name: "empty path", f: File{}, wantErr: "empty destination path"},
		{name: "read-only directory", f: File{Path: filepath.Join(ro, "x.conf")}, wantErr: "not writable", perm: true},
		{name: "read-only directory, rename forced", f: File{Path: filepath.Join(ro, "sub", "x.conf"), Mode: Rename}, wantErr: "not writable", perm: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := listing(t, dir)
			err := CheckWritable([]File{tt.f})
			want := tt.wantErr
			if tt.perm && root {
				want = "" // root writes anywhere but a read-only mount
			}
			switch {
			case want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("error %v, want one containing %q", err, want)
			}
			if after := listing(t, dir); after != before {
				t.Errorf("CheckWritable changed the tree:\n%s\nthen:\n%s", before, after)
			}
		})
	}
	// Every problem of a set at once.
	err := CheckWritable([]File{{Path: filepath.Join(dir, "adir")}, {Path: filepath.Join(dir, "afile", "x")}})
	if err == nil || !strings.Contains(err.Error(), "adir") || !strings.Contains(err.Error(), "afile") {
		t.Errorf("error %v, want both destinations named", err)
	}
}

func listing(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		fi, _ := d.Info()
		sb.WriteString(p + " " + fi.Mode().String() + " " + fi.ModTime().String() + "\n")
		return nil
	})
	return sb.String()
}
