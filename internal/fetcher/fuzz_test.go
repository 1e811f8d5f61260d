package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
)

// archiveNames are the file names FuzzFetch gives the fetched file, by
// its kind argument: one per format extract recognises, and a plain file.
var archiveNames = []string{"app.tar", "app.tar.gz", "app.tgz", "app.tar.bz2", "app.zip", "app.conf.gz", "app.bin", "app.tar.xz", "app.txz"}

// archiveOf writes members as the archive format of name: tar (gzip,
// bzip2 or xz compressed by its suffix; bzip2 with the bzip2 tool, nil
// when it is not installed), zip (hard links left out: zip has none), a gzip file
// of the members' contents, or a plain file for any other name.
func archiveOf(tb testing.TB, name string, ms []member) []byte {
	tb.Helper()
	switch {
	case strings.HasSuffix(name, ".zip"):
		var files []member
		for _, m := range ms {
			if m.kind != tar.TypeLink {
				files = append(files, m)
			}
		}
		return zipWith(tb, files)
	case strings.HasSuffix(name, ".tar.bz2"):
		bz, err := exec.LookPath("bzip2")
		if err != nil {
			return nil
		}
		cmd := exec.Command(bz, "-c")
		cmd.Stdin = bytes.NewReader(tarOf(tb, false, ms))
		out, err := cmd.Output()
		if err != nil {
			tb.Fatalf("bzip2: %v", err)
		}
		return out
	case strings.HasSuffix(name, ".tar.xz"), strings.HasSuffix(name, ".txz"):
		return xzOf(tb, tarOf(tb, false, ms))
	case strings.HasSuffix(name, ".tar"), strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return tarOf(tb, !strings.HasSuffix(name, ".tar"), ms)
	case strings.HasSuffix(name, ".gz"):
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		for _, m := range ms {
			gz.Write([]byte(m.data))
		}
		gz.Close()
		return buf.Bytes()
	}
	return []byte("#!/bin/sh\necho plain\n")
}

// fuzzArchives are the corpus's archive contents: what TestFetcher and
// TestConfinement fetch, and links that stay inside.
var fuzzArchives = [][]member{
	{{"app/run.sh", tar.TypeReg, "echo run"}, {"conf/a.txt", tar.TypeReg, "A"}},
	{{"lib", tar.TypeDir, ""}, {"lib/libx.so.1", tar.TypeReg, "ELF"}, {"lib/libx.so", tar.TypeSymlink, "libx.so.1"}, {"bin/x", tar.TypeLink, "lib/libx.so.1"}},
	{{"jre/bin/java", tar.TypeReg, "java"}, {"bin", tar.TypeSymlink, "jre/bin"}, {"a/b/c", tar.TypeSymlink, "../../jre"}},
	{{"conf", tar.TypeSymlink, "../outside"}, {"conf/escaped.txt", tar.TypeReg, "x"}},
	{{"a/b", tar.TypeSymlink, "../../outside"}, {"a/b/victim.txt", tar.TypeReg, "x"}},
	{{"v", tar.TypeSymlink, "/tmp"}, {"v", tar.TypeReg, "overwritten"}},
	{{"h", tar.TypeLink, "../outside/victim.txt"}},
	{{"a/../../outside/escape.txt", tar.TypeReg, "x"}},
	{{"./dup", tar.TypeReg, "1"}, {"dup", tar.TypeSymlink, "x"}, {"dup", tar.TypeReg, "2"}},
	{{"self/l", tar.TypeSymlink, "lib"}, {"d/e", tar.TypeSymlink, "f"}},
}

// maxExpanded bounds what one fuzzed archive may decompress to: a bomb is
// not the fetcher's fault (Mesos' fetcher has no bound either; the
// agent's disk quota is the limit), and would only fill the disk.
const maxExpanded = 16 << 20

// FuzzFetch fetches a fuzzed file (each archive format, or a plain file)
// into a sandbox whose parent holds a victim file, and whose own tree
// holds a symbolic link out (as the executor's volume links are) and one
// to itself, with a fuzzed output_file, executable and extract.
// Properties:
//   - nothing outside the sandbox changes: the victim directory, the
//     source, and a sentinel directory outside the test's whole tree keep
//     exactly their files and contents;
//   - no symbolic link the fetch leaves in the sandbox resolves outside it
//     (checked by the kernel: openat2 with RESOLVE_BENEATH);
//   - an error names the URI;
//   - round trips: a file fetched without extracting has the source's
//     bytes, and a fetched .gz decompresses next to itself to what gzip
//     reads from it;
//   - at most 16 MiB allocated per fetch (archives are streamed).
func FuzzFetch(f *testing.F) {
	for i, name := range archiveNames {
		for _, ms := range fuzzArchives {
			if data := archiveOf(f, name, ms); data != nil {
				f.Add(data, uint8(i), "", false, true)
			}
		}
	}
	f.Add([]byte("plain"), uint8(6), "../outside/o.txt", false, true)
	f.Add([]byte("plain"), uint8(6), "conf/o.txt", false, true)
	f.Add([]byte("plain"), uint8(6), "/abs", true, false)
	f.Add(archiveOf(f, "app.tar", fuzzArchives[1]), uint8(0), "self/lib.tar", false, true)
	f.Add(archiveOf(f, "app.tar.gz", fuzzArchives[1]), uint8(1), "", true, true)
	sentinel := f.TempDir()
	if err := os.WriteFile(filepath.Join(sentinel, "sentinel"), []byte("sentinel"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8, output string, executable, extract bool) {
		name := archiveNames[int(kind)%len(archiveNames)]
		if expanded(data, name) > maxExpanded {
			return
		}
		checkFetch(t, sentinel, data, name, output, executable, extract)
	})
}

// expanded returns how many bytes a compressed file named name expands
// to, counting no further than maxExpanded+1; other files count as
// themselves. An archive's content says how it is compressed, as it does
// to extract.
func expanded(data []byte, name string) int64 {
	var r io.Reader
	switch {
	case !slices.ContainsFunc(archiveSuffixes, func(s string) bool { return strings.HasSuffix(name, s) }) && !strings.HasSuffix(name, ".gz"):
		return int64(len(data))
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return 0
		}
		r = gz
	case bytes.HasPrefix(data, []byte("BZh")):
		r = bzip2.NewReader(bytes.NewReader(data))
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return 0
		}
		r = xr
	case bytes.HasPrefix(data, []byte("PK")), strings.HasSuffix(name, ".zip"):
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return 0
		}
		var n int64
		for _, f := range zr.File {
			if rc, err := f.Open(); err == nil {
				m, _ := io.Copy(io.Discard, io.LimitReader(rc, maxExpanded+1-n))
				n += m
				rc.Close()
			}
		}
		return n
	default:
		return int64(len(data))
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(r, maxExpanded+1))
	return n
}

// fetchBudget is what one fetch may allocate: archives are streamed, so
// it does not grow with the input.
var fetchBudget = fuzzcheck.Budget{Alloc: 16 * fuzzcheck.MiB}

// checkFetch fetches data, saved as name, into a fresh sandbox and checks
// FuzzFetch's properties; the fetch of an input over 64 KiB is checked
// against fetchBudget too.
func checkFetch(t *testing.T, sentinel string, data []byte, name, output string, executable, extract bool) {
	base := t.TempDir()
	outside, src, sandbox := filepath.Join(base, "outside"), filepath.Join(base, "src"), filepath.Join(base, "sandbox")
	for _, d := range []string{outside, src, sandbox} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "victim.txt"), []byte("victim"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A link out the fetch must not write through (as the executor's
	// volume links point out of a task's sandbox), and a link to the
	// sandbox itself, shallower than its name.
	if err := os.Symlink(outside, filepath.Join(sandbox, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(sandbox, "self")); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(src, name)
	if err := os.WriteFile(archive, data, 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, base, sandbox) + snapshot(t, sentinel, "")

	u := mesos.CommandInfo_URI{Value: "file://" + archive, Executable: &executable, Extract: &extract}
	if output != "" {
		u.OutputFile = &output
	}
	var dest string
	var err error
	fetch := func() { dest, err = (&Fetcher{}).FetchOne(context.Background(), u, sandbox) }
	if len(data) > 64<<10 {
		fetchBudget.Check(t, "FetchOne", fetch)
	} else {
		fetch()
	}
	if err != nil && !strings.Contains(err.Error(), name) {
		t.Fatalf("the error does not name the URI: %v", err)
	}
	if after := snapshot(t, base, sandbox) + snapshot(t, sentinel, ""); after != before {
		t.Fatalf("fetching %s (output_file %q, error %v) changed what is outside the sandbox:\nbefore:\n%s\nafter:\n%s", name, output, err, before, after)
	}
	if err == nil {
		checkFetched(t, data, name, output, dest, executable || !extract)
	}
	// Without the planted link out, what the fetch left must resolve
	// inside (links through "out" now dangle).
	os.Remove(filepath.Join(sandbox, "out"))
	if link, ok := linkOut(t, sandbox); ok {
		t.Fatalf("fetching %s (output_file %q, error %v) left the link %s resolving outside the sandbox", name, output, err, link)
	}
}

// checkFetched checks the round trips of a successful fetch of data to
// dest: a file not extracted holds data, and a .gz file kept its name
// and decompressed next to itself.
func checkFetched(t *testing.T, data []byte, name, output, dest string, raw bool) {
	if raw || output == "" && name == "app.bin" {
		if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("fetched %s to %s: %d bytes (%v), want the source's %d", name, dest, len(got), err, len(data))
		}
		return
	}
	if output != "" || name != "app.conf.gz" {
		return // an archive's entries may replace the archive itself
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("fetched and extracted %s, which gzip does not read: %v", name, err)
	}
	want, err := io.ReadAll(gz)
	if err != nil {
		t.Fatalf("fetched and extracted %s, which gzip does not read: %v", name, err)
	}
	if got, err := os.ReadFile(strings.TrimSuffix(dest, ".gz")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s decompressed to %d bytes (%v), want %d", name, len(got), err, len(want))
	}
}

// TestFetchBudget fetches 1 MiB inputs of every format within
// fetchBudget: archives of 1,024 small entries and of one 1 MiB entry,
// and a plain 1 MiB file.
func TestFetchBudget(t *testing.T) {
	var many []member
	for i := range fuzzcheck.MiB / 1024 {
		many = append(many, member{fmt.Sprintf("d%d/f%d", i%16, i), tar.TypeReg, strings.Repeat("x", 512)})
	}
	one := []member{{"big", tar.TypeReg, string(fuzzcheck.Sized([]byte("0123456789abcdef"), fuzzcheck.MiB))}}
	for _, name := range archiveNames {
		for what, ms := range map[string][]member{"many entries": many, "one entry": one} {
			data := archiveOf(t, name, ms)
			switch {
			case name == "app.bin":
				data = fuzzcheck.Sized([]byte("plain\n"), fuzzcheck.MiB)
			case data == nil:
				t.Logf("%s: bzip2 is not installed, no archive to fetch", name)
				continue
			}
			src := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(src, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var err error
			c := fetchBudget.Check(t, name+" "+what, func() {
				_, err = (&Fetcher{}).FetchOne(context.Background(), mesos.CommandInfo_URI{Value: "file://" + src}, t.TempDir())
			})
			if err != nil {
				t.Errorf("%s %s: %v", name, what, err)
			}
			t.Logf("%s %s (%d bytes): %v", name, what, len(data), c)
		}
	}
}

// snapshot describes every file under dir except those under skip: path,
// type, mode and content (or link target).
func snapshot(t *testing.T, dir, skip string) string {
	var sb strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			sb.WriteString(p + ": " + err.Error() + "\n")
			return nil
		}
		if skip != "" && (p == skip || strings.HasPrefix(p, skip+"/")) {
			if p == skip {
				sb.WriteString(p + " (sandbox)\n")
				return fs.SkipDir
			}
			return nil
		}
		info, _ := d.Info()
		sb.WriteString(p + " " + info.Mode().String())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			sb.WriteString(" -> " + l)
		case d.Type().IsRegular():
			b, _ := os.ReadFile(p)
			sb.WriteString(" " + string(b))
		}
		sb.WriteString("\n")
		return nil
	})
	return sb.String()
}

// linkOut returns a symbolic link under sandbox that the kernel resolves
// outside it, if there is one: openat2 with RESOLVE_BENEATH fails with
// EXDEV exactly then.
func linkOut(t *testing.T, sandbox string) (string, bool) {
	root, err := os.Open(sandbox)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var out string
	filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink == 0 || out != "" {
			return nil
		}
		rel, _ := filepath.Rel(sandbox, p)
		fd, err := unix.Openat2(int(root.Fd()), rel, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH})
		if err == nil {
			unix.Close(fd)
		}
		if errors.Is(err, unix.EXDEV) {
			l, _ := os.Readlink(p)
			out = rel + " -> " + l
		}
		return nil
	})
	return out, out != ""
}

// TestLinksClimbingOut is the regression test of the fault found writing
// FuzzFetch's link property: each symbolic link was checked by its name
// alone, so links that stay inside by name could lead out through other
// links — a -> "." then a/l -> ".." (l is the sandbox's parent), a target
// climbing after a component that a later entry makes a link, a hard
// link copying a climbing link to a shallower place, a link made by one
// archive through a link an earlier one left. Now a target climbs only
// at its start and no higher than its directory really is.
func TestLinksClimbingOut(t *testing.T) {
	tests := []struct {
		name     string
		archives [][]member // fetched in order into one sandbox
		refused  bool
	}{
		{"a link to the directory, then a link climbing from it", [][]member{{{"a", tar.TypeSymlink, "."}, {"a/l", tar.TypeSymlink, ".."}}}, true},
		{"a climb after descending", [][]member{{{"l", tar.TypeSymlink, "a/b/../.."}, {"a/b", tar.TypeSymlink, ".."}}}, true},
		{"a hard link to a climbing link", [][]member{{{"deep/deeper/s", tar.TypeSymlink, "../.."}, {"h", tar.TypeLink, "deep/deeper/s"}}}, true},
		{"a link through one an earlier archive left", [][]member{{{"a", tar.TypeSymlink, "."}}, {{"a/l", tar.TypeSymlink, ".."}}}, true},
		{"links that stay inside", [][]member{{{"jre/bin/java", tar.TypeReg, "j"}, {"bin", tar.TypeSymlink, "jre/bin"}, {"a/b/c", tar.TypeSymlink, "../../jre"},
			{"lib/libx.so", tar.TypeSymlink, "./libx.so.1"}, {"a/b/h", tar.TypeLink, "a/b/c"}, {"x/h", tar.TypeLink, "bin"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			sandbox := filepath.Join(base, "sandbox")
			if err := os.Mkdir(sandbox, 0o755); err != nil {
				t.Fatal(err)
			}
			var err error
			for i, entries := range tt.archives {
				src := filepath.Join(base, fmt.Sprintf("app%d.tar", i))
				os.WriteFile(src, archiveOf(t, src, entries), 0o644)
				if _, err = (&Fetcher{}).FetchOne(context.Background(), mesos.CommandInfo_URI{Value: "file://" + src}, sandbox); err != nil {
					break
				}
			}
			if tt.refused != errors.Is(err, ErrOutside) {
				t.Errorf("fetch: %v, want refused: %v", err, tt.refused)
			}
			if link, ok := linkOut(t, sandbox); ok {
				t.Errorf("left %s, resolving outside", link)
			}
		})
	}
}
