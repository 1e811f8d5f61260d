package sandboxfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const appendFlags = os.O_CREATE | os.O_WRONLY | os.O_APPEND

// plant makes a sandbox and an outside directory holding "important",
// lets setup plant links in the sandbox, and returns both and a check
// that the outside directory still holds exactly "important", unchanged.
func plant(t *testing.T, setup func(sandbox, outside string)) (sandbox *Dir, unchanged func()) {
	t.Helper()
	sb, out := t.TempDir(), t.TempDir()
	important := filepath.Join(out, "important")
	if err := os.WriteFile(important, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	setup(sb, out)
	d, err := Open(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, func() {
		t.Helper()
		b, err := os.ReadFile(important)
		if err != nil || string(b) != "keep\n" {
			t.Errorf("outside file changed: %q, %v", b, err)
		}
		ents, _ := os.ReadDir(out)
		if len(ents) != 1 {
			t.Errorf("outside directory holds %d entries, want only important", len(ents))
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRefusesPlantedLinks plants, for each operation, a link to the
// outside where the file or a directory on its way should be, and checks
// the operation fails naming the file, wrapping ErrSymlink or
// ErrNotRegular, with nothing outside changed.
func TestRefusesPlantedLinks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(sb, out string) error
		op    func(d *Dir) error
		want  error
		names string // the path the error must name, relative to the sandbox
	}{
		{"append through a linked file", func(sb, out string) error {
			return os.Symlink(filepath.Join(out, "important"), filepath.Join(sb, "stdout"))
		}, func(d *Dir) error { _, err := d.OpenFile("stdout", appendFlags, 0o644); return err }, ErrSymlink, "stdout"},
		{"truncate through a linked file", func(sb, out string) error {
			return os.Symlink(filepath.Join(out, "important"), filepath.Join(sb, "stdout"))
		}, func(d *Dir) error {
			_, err := d.OpenFile("stdout", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			return err
		}, ErrSymlink, "stdout"},
		{"create through a dangling link", func(sb, out string) error {
			return os.Symlink(filepath.Join(out, "new"), filepath.Join(sb, "stdout"))
		}, func(d *Dir) error { _, err := d.OpenFile("stdout", appendFlags, 0o644); return err }, ErrSymlink, "stdout"},
		{"open under a linked directory", func(sb, out string) error {
			return os.Symlink(out, filepath.Join(sb, "tasks"))
		}, func(d *Dir) error { _, err := d.OpenFile("tasks/important", appendFlags, 0o644); return err }, ErrSymlink, "tasks"},
		{"mkdir under a linked directory", func(sb, out string) error {
			return os.Symlink(out, filepath.Join(sb, "tasks"))
		}, func(d *Dir) error { _, err := d.MkdirAll("tasks/t1", 0o755); return err }, ErrSymlink, "tasks"},
		{"mkdir of a linked directory", func(sb, out string) error {
			if err := os.Mkdir(filepath.Join(sb, "tasks"), 0o755); err != nil {
				return err
			}
			return os.Symlink(out, filepath.Join(sb, "tasks", "t1"))
		}, func(d *Dir) error { _, err := d.MkdirAll("tasks/t1", 0o755); return err }, ErrSymlink, "tasks/t1"},
		{"symlink under a linked directory", func(sb, out string) error {
			return os.Symlink(out, filepath.Join(sb, "data"))
		}, func(d *Dir) error { return d.Symlink("/volume", "data/v") }, ErrSymlink, "data"},
		{"remove under a linked directory", func(sb, out string) error {
			return os.Symlink(out, filepath.Join(sb, "data"))
		}, func(d *Dir) error { return d.Remove("data/important") }, ErrSymlink, "data"},
		{"append to a hard link", func(sb, out string) error {
			return os.Link(filepath.Join(out, "important"), filepath.Join(sb, "stdout"))
		}, func(d *Dir) error { _, err := d.OpenFile("stdout", appendFlags, 0o644); return err }, ErrNotRegular, "stdout"},
		{"truncate a hard link", func(sb, out string) error {
			return os.Link(filepath.Join(out, "important"), filepath.Join(sb, "stdout"))
		}, func(d *Dir) error {
			_, err := d.OpenFile("stdout", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			return err
		}, ErrNotRegular, "stdout"},
		{"a FIFO does not block", func(sb, out string) error {
			return syscall.Mkfifo(filepath.Join(sb, "stdout"), 0o644)
		}, func(d *Dir) error { _, err := d.OpenFile("stdout", appendFlags, 0o644); return err }, syscall.ENXIO, "stdout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var serr error
			d, unchanged := plant(t, func(sb, out string) { serr = tc.setup(sb, out) })
			if serr != nil {
				// A hard link across filesystems cannot be made here.
				t.Skipf("planting: %v", serr)
			}
			err := tc.op(d)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), filepath.Join(d.Name(), tc.names)) {
				t.Errorf("error %v, want %v naming %s", err, tc.want, tc.names)
			}
			unchanged()
		})
	}
}

// TestOperations checks what the Dir does when nothing is planted.
func TestOperations(t *testing.T) {
	d, unchanged := plant(t, func(sb, out string) {})
	sub, err := d.MkdirAll("tasks/t1", 0o755)
	must(t, err)
	defer sub.Close()
	if want := filepath.Join(d.Name(), "tasks", "t1"); sub.Name() != want {
		t.Errorf("Name %q, want %q", sub.Name(), want)
	}
	again, err := d.MkdirAll("tasks/t1", 0o755) // existing directories are fine
	must(t, err)
	again.Close()
	for _, line := range []string{"one\n", "two\n"} {
		f, err := sub.OpenFile("stdout", appendFlags, 0o644)
		must(t, err)
		_, err = f.WriteString(line)
		must(t, err)
		must(t, f.Close())
	}
	if b, _ := os.ReadFile(filepath.Join(sub.Name(), "stdout")); string(b) != "one\ntwo\n" {
		t.Errorf("stdout %q", b)
	}
	f, err := d.OpenFile("tasks/t1/stdout", os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	f.Close()
	if fi, _ := os.Stat(filepath.Join(sub.Name(), "stdout")); fi.Size() != 0 {
		t.Errorf("not truncated: %d bytes", fi.Size())
	}
	must(t, sub.Symlink("/somewhere/else", "vol"))
	if got, err := d.Readlink("tasks/t1/vol"); err != nil || got != "/somewhere/else" {
		t.Errorf("Readlink %q, %v", got, err)
	}
	must(t, d.Remove("tasks/t1/vol"))
	must(t, sub.Remove("stdout"))
	must(t, d.Remove("tasks/t1"))
	if _, err := os.Lstat(sub.Name()); !os.IsNotExist(err) {
		t.Errorf("tasks/t1 not removed: %v", err)
	}
	opened, err := os.ReadDir(d.FDPath())
	must(t, err)
	if len(opened) != 1 || opened[0].Name() != "tasks" {
		t.Errorf("FDPath lists %v", opened)
	}
	for _, rel := range []string{"../x", "/etc/passwd", "a/../../x"} {
		if _, err := d.OpenFile(rel, appendFlags, 0o644); err == nil || !strings.Contains(err.Error(), "not a relative path") {
			t.Errorf("%s: %v", rel, err)
		}
	}
	unchanged()
}
