package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/ulikunitz/xz"
)

// member is one archive entry for the confinement table.
type member struct {
	name string
	kind byte   // tar.TypeReg, TypeDir, TypeSymlink, TypeLink
	data string // content, or link target
}

func tarOf(t testing.TB, compress bool, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	var gz *gzip.Writer
	w := any(&buf).(interface{ Write([]byte) (int, error) })
	if compress {
		gz = gzip.NewWriter(&buf)
		w = gz
	}
	tw := tar.NewWriter(w)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Typeflag: m.kind, Mode: 0o644}
		switch m.kind {
		case tar.TypeReg:
			h.Size = int64(len(m.data))
		case tar.TypeDir:
			h.Mode = 0o755
		default:
			h.Linkname = m.data
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.kind == tar.TypeReg {
			tw.Write([]byte(m.data))
		}
	}
	tw.Close()
	if gz != nil {
		gz.Close()
	}
	return buf.Bytes()
}

// xzOf compresses data in the xz format (with a 1 MiB dictionary, so
// that reading it allocates little).
func xzOf(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{DictCap: 1 << 20}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipWith(t testing.TB, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		switch m.kind {
		case tar.TypeSymlink:
			h.SetMode(fs.ModeSymlink | 0o777)
		case tar.TypeDir:
			h.Name += "/"
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if m.kind != tar.TypeDir {
			w.Write([]byte(m.data))
		}
	}
	zw.Close()
	return buf.Bytes()
}

// TestConfinement is the regression table of one kind of fault: a fetch
// writing outside its sandbox (hashicorp/go-getter#174, field case 06).
// Each row fetches one URI into a fresh sandbox next to a directory
// "outside"; whatever happens, nothing in "outside" may be created or
// changed, and a row that is a violation must fail with ErrOutside (or, for
// links planted before the fetch, with os.Root's refusal).
func TestConfinement(t *testing.T) {
	const victim = "victim.txt" // a file in "outside" that must keep its content
	tests := []struct {
		name    string
		archive string   // file name of the archive: its suffix picks the format
		members []member // archive content (zip rows use the same members)
		plant   []member // links made in the sandbox before the fetch (target "OUT" = outside)
		output  string   // output_file
		wantErr bool     // the fetch must fail
		outside bool     // ... with ErrOutside
		check   func(t *testing.T, sandbox string)
	}{
		{name: "symlink to an absolute outside directory, then a file through it", archive: "app.tar.gz",
			members: []member{{"conf", tar.TypeSymlink, "OUT"}, {"conf/escaped.txt", tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "symlink with .. out, then a file through it", archive: "app.tgz",
			members: []member{{"conf", tar.TypeSymlink, "../outside"}, {"conf/escaped.txt", tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "nested symlink climbing out", archive: "app.tar",
			members: []member{{"a/b", tar.TypeSymlink, "../../outside"}, {"a/b/" + victim, tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "symlink to an outside file, then the file rewritten through it", archive: "app.tar.gz",
			members: []member{{"v", tar.TypeSymlink, "OUT/" + victim}, {"v", tar.TypeReg, "overwritten"}}, wantErr: true, outside: true},
		{name: "hard link to an absolute path", archive: "app.tar.gz",
			members: []member{{"h", tar.TypeLink, "OUT/" + victim}}, wantErr: true, outside: true},
		{name: "hard link with .. out", archive: "app.tar.gz",
			members: []member{{"h", tar.TypeLink, "../outside/" + victim}}, wantErr: true, outside: true},
		{name: "entry named ..", archive: "app.tar.gz",
			members: []member{{"../outside/escape.txt", tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "entry with .. in the middle", archive: "app.tar.gz",
			members: []member{{"a/../../outside/escape.txt", tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "absolute entry", archive: "app.tar.gz",
			members: []member{{"OUT/abs.txt", tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "zip: symlink out, then a file through it", archive: "app.zip",
			members: []member{{"conf", tar.TypeSymlink, "OUT"}, {"conf/escaped.txt", tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "xz: symlink out, then a file through it", archive: "app.tar.xz",
			members: []member{{"conf", tar.TypeSymlink, "OUT"}, {"conf/escaped.txt", tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "xz: entry named ..", archive: "app.txz",
			members: []member{{"../outside/escape.txt", tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "zip: entry named ..", archive: "app.zip",
			members: []member{{"../outside/escape.txt", tar.TypeReg, "x"}}, wantErr: true, outside: true},
		{name: "two links, each inside as text, lead out together", archive: "app.tar",
			members: []member{{"d/", tar.TypeDir, ""}, {"d/x", tar.TypeSymlink, ".."}, {"d/y", tar.TypeSymlink, "x/../outside"}}, wantErr: true, outside: true},
		{name: "the same links in the other order", archive: "app.tar.gz",
			members: []member{{"d/y", tar.TypeSymlink, "x/../outside"}, {"d/x", tar.TypeSymlink, ".."}}, wantErr: true, outside: true},
		{name: "a chain through three links", archive: "app.tar.gz",
			members: []member{{"a/b/c", tar.TypeSymlink, "../.."}, {"a/up", tar.TypeSymlink, "b/c"}, {"a/out", tar.TypeSymlink, "up/../outside"}}, wantErr: true, outside: true},
		{name: "hard link to an inside symlink moves its text to a shallower directory", archive: "app.tar.gz",
			members: []member{{"a/l", tar.TypeSymlink, "../outside"}, {"h", tar.TypeLink, "a/l"}}, wantErr: true, outside: true},
		{name: "zip: two links lead out together", archive: "app.zip",
			members: []member{{"d", tar.TypeDir, ""}, {"d/x", tar.TypeSymlink, ".."}, {"d/y", tar.TypeSymlink, "x/../outside"}}, wantErr: true, outside: true},
		{name: "a link loop is kept: it leads nowhere", archive: "app.tar.gz",
			members: []member{{"a", tar.TypeSymlink, "b"}, {"b", tar.TypeSymlink, "a"}}},
		{name: "a climb after descending, through a loop", archive: "app.tar.gz",
			members: []member{{"a", tar.TypeSymlink, "b"}, {"b", tar.TypeSymlink, "a"}, {"c", tar.TypeSymlink, "a/../outside"}}, wantErr: true, outside: true},
		{name: "output_file absolute", archive: "plain.txt", output: "OUT/o.txt", wantErr: true, outside: true},
		{name: "output_file with ..", archive: "plain.txt", output: "../outside/o.txt", wantErr: true, outside: true},
		{name: "output_file through a symlink planted in the sandbox", archive: "plain.txt", output: "conf/o.txt",
			plant: []member{{"conf", tar.TypeSymlink, "OUT"}}, wantErr: true},
		{name: "archive entry through a symlink planted in the sandbox", archive: "app.tar.gz",
			members: []member{{"conf/escaped.txt", tar.TypeReg, "x"}}, plant: []member{{"conf", tar.TypeSymlink, "OUT"}}, wantErr: true},
		{name: "gz decompressed onto a planted symlink replaces the link", archive: "v.gz",
			plant: []member{{"v", tar.TypeSymlink, "OUT/" + victim}},
			check: func(t *testing.T, sb string) {
				if fi, err := os.Lstat(filepath.Join(sb, "v")); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("v is %v, %v; want the decompressed regular file", fi, err)
				}
			}},
		{name: "duplicate entries: the later replaces an inside link, not its target", archive: "app.tar.gz",
			members: []member{{"target.txt", tar.TypeReg, "original"}, {"l", tar.TypeSymlink, "target.txt"}, {"l", tar.TypeReg, "replaced"}},
			check: func(t *testing.T, sb string) {
				if b, _ := os.ReadFile(filepath.Join(sb, "target.txt")); string(b) != "original" {
					t.Errorf("target.txt = %q: written through the earlier link", b)
				}
				if b, _ := os.ReadFile(filepath.Join(sb, "l")); string(b) != "replaced" {
					t.Errorf("l = %q", b)
				}
			}},
		{name: "duplicate files: the last one wins", archive: "app.tar.gz",
			members: []member{{"a.txt", tar.TypeReg, "first"}, {"a.txt", tar.TypeReg, "second"}},
			check: func(t *testing.T, sb string) {
				if b, _ := os.ReadFile(filepath.Join(sb, "a.txt")); string(b) != "second" {
					t.Errorf("a.txt = %q", b)
				}
			}},
		{name: "links inside the directory are kept", archive: "app.tar.gz",
			members: []member{{"lib/libx.so.1", tar.TypeReg, "elf"}, {"lib/libx.so", tar.TypeSymlink, "libx.so.1"},
				{"bin/", tar.TypeDir, ""}, {"bin/x", tar.TypeSymlink, "../lib/libx.so"}, {"hard", tar.TypeLink, "lib/libx.so.1"}},
			check: func(t *testing.T, sb string) {
				for _, p := range []string{"lib/libx.so", "bin/x", "hard"} {
					if b, err := os.ReadFile(filepath.Join(sb, p)); err != nil || string(b) != "elf" {
						t.Errorf("%s: %q, %v", p, b, err)
					}
				}
			}},
		{name: "zip: links inside kept", archive: "app.zip",
			members: []member{{"d", tar.TypeDir, ""}, {"d/f", tar.TypeReg, "F"}, {"link", tar.TypeSymlink, "d/f"}},
			check: func(t *testing.T, sb string) {
				if b, err := os.ReadFile(filepath.Join(sb, "link")); err != nil || string(b) != "F" {
					t.Errorf("link: %q, %v", b, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			out := filepath.Join(base, "outside")
			sandbox := filepath.Join(base, "sandbox")
			src := filepath.Join(base, "src")
			for _, d := range []string{out, sandbox, src} {
				os.Mkdir(d, 0o755)
			}
			os.WriteFile(filepath.Join(out, victim), []byte("victim"), 0o644)
			fix := func(s string) string { return strings.ReplaceAll(s, "OUT", out) }
			for _, p := range tt.plant {
				if err := os.Symlink(fix(p.data), filepath.Join(sandbox, p.name)); err != nil {
					t.Fatal(err)
				}
			}
			ms := make([]member, len(tt.members))
			for i, m := range tt.members {
				ms[i] = member{fix(m.name), m.kind, fix(m.data)}
			}
			var blob []byte
			switch {
			case strings.HasSuffix(tt.archive, ".zip"):
				blob = zipWith(t, ms)
			case strings.HasSuffix(tt.archive, ".tar"):
				blob = tarOf(t, false, ms)
			case strings.HasSuffix(tt.archive, ".tar.gz"), strings.HasSuffix(tt.archive, ".tgz"):
				blob = tarOf(t, true, ms)
			case strings.HasSuffix(tt.archive, ".tar.xz"), strings.HasSuffix(tt.archive, ".txz"):
				blob = xzOf(t, tarOf(t, false, ms))
			case strings.HasSuffix(tt.archive, ".gz"):
				var b bytes.Buffer
				gz := gzip.NewWriter(&b)
				gz.Write([]byte("decompressed"))
				gz.Close()
				blob = b.Bytes()
			default:
				blob = []byte("plain")
			}
			archive := filepath.Join(src, tt.archive)
			os.WriteFile(archive, blob, 0o644)
			u := mesos.CommandInfo_URI{Value: "file://" + archive}
			if tt.output != "" {
				o := fix(tt.output)
				u.OutputFile = &o
			}
			_, err := (&Fetcher{}).FetchOne(context.Background(), u, sandbox)
			switch {
			case tt.wantErr && err == nil:
				t.Error("fetch passed")
			case !tt.wantErr && err != nil:
				t.Errorf("fetch failed: %v", err)
			case tt.outside && !errors.Is(err, ErrOutside):
				t.Errorf("error %v does not wrap ErrOutside", err)
			case err != nil && !strings.Contains(err.Error(), tt.archive):
				t.Errorf("error %v does not name the URI", err)
			}
			entries, _ := os.ReadDir(out)
			if len(entries) != 1 || entries[0].Name() != victim {
				t.Errorf("outside holds %v, want only %s", entries, victim)
			}
			if b, _ := os.ReadFile(filepath.Join(out, victim)); string(b) != "victim" {
				t.Errorf("outside %s changed to %q", victim, b)
			}
			if tt.plant == nil { // no link left behind leads out
				filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, err error) error {
					if err == nil && d.Type()&fs.ModeSymlink != 0 {
						if r, err := filepath.EvalSymlinks(p); err == nil && !strings.HasPrefix(r+"/", sandbox+"/") {
							t.Errorf("%s is left pointing at %s", p, r)
						}
					}
					return nil
				})
			}
			if tt.check != nil {
				tt.check(t, sandbox)
			}
		})
	}
}

// TestCacheLinkConfined: a cached URI is linked into the sandbox through
// the sandbox's root too, so a planted link cannot redirect it.
func TestCacheLinkConfined(t *testing.T) {
	base := t.TempDir()
	out := filepath.Join(base, "outside")
	sandbox := filepath.Join(base, "sandbox")
	os.Mkdir(out, 0o755)
	os.Mkdir(sandbox, 0o755)
	os.Symlink(out, filepath.Join(sandbox, "bin"))
	srcFile := filepath.Join(base, "tool")
	os.WriteFile(srcFile, []byte("#!/bin/sh\n"), 0o755)
	f := &Fetcher{CacheDir: filepath.Join(base, "cache"), CacheAll: true}
	// A file:// URI is not cached; exercise the link step directly.
	if err := os.MkdirAll(f.CacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(f.CacheDir, "k"), []byte("cached"), 0o644)
	cache, _ := os.OpenRoot(f.CacheDir)
	defer cache.Close()
	root, _ := os.OpenRoot(sandbox)
	defer root.Close()
	if err := linkOrCopy(context.Background(), cache, "k", root, "bin/tool"); err == nil {
		t.Error("linked through a planted symlink")
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("outside holds %v", entries)
	}
	if err := linkOrCopy(context.Background(), cache, "k", root, "tool"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(sandbox, "tool")); string(b) != "cached" {
		t.Errorf("tool = %q", b)
	}
}
