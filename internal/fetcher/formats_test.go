package fetcher

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// TestArchiveFormats is the regression table of which fetched files are
// extracted and how, against Mesos' fetcher (src/launcher/fetcher.cpp,
// extract()): every suffix it lists is extracted (.tar.xz and .txz were
// fetched and left whole), matched case-sensitively as it does, and the
// archive's content picks the format, as libarchive does (a .tgz holding
// a plain tar is extracted), and an archive output_file puts in a
// subdirectory is extracted into the sandbox (it was extracted next to
// itself). testdata/archives/app.tar.xz is a fixture
// made by the xz tool (tar --sort=name --owner=0 --group=0 --mtime=@0
// -cf - app | xz -6), so the reader is checked against what users ship,
// not only against the Go writer the other rows use.
func TestArchiveFormats(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "archives", "app.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	app := []member{{"app/bin/run.sh", tar.TypeReg, "#!/bin/sh\necho run\n"}, {"app/hello.txt", tar.TypeReg, "hello from the archive\n"}, {"app/lib", tar.TypeSymlink, "bin"}}
	plain := tarOf(t, false, app)
	tests := []struct {
		name      string
		data      []byte
		output    string // output_file
		extracted bool   // app's files are in the sandbox afterwards
		wantErr   string // the fetch fails with this in its error
	}{
		{"app.tar.xz", fixture, "", true, ""},
		{"app.txz", fixture, "", true, ""},
		{"app.tar", plain, "", true, ""},
		{"app.tar.gz", tarOf(t, true, app), "", true, ""},
		{"app.tgz", tarOf(t, true, app), "", true, ""},
		{"app.tar.bz2", archiveOf(t, "app.tar.bz2", app), "", true, ""},
		{"app.tbz2", archiveOf(t, "app.tar.bz2", app), "", true, ""},
		{"app.zip", zipWith(t, app), "", true, ""},
		{"a .tgz holding a plain tar.tgz", plain, "", true, ""},
		{"a .tar holding an xz tar.tar", fixture, "", true, ""},
		{"a .tar.gz holding a zip.tar.gz", zipWith(t, app), "", true, ""},
		{"output_file in a subdirectory.tar.xz", fixture, "sub/dir/app.tar.xz", true, ""},
		{"output_file in a subdirectory.tgz", tarOf(t, true, app), "sub/app.tgz", true, ""},
		{"upper case.TAR.XZ", fixture, "", false, ""},
		{"app.tar.lzma", fixture, "", false, ""},
		{"app.tar.zst", fixture, "", false, ""},
		{"app.xz", fixture, "", false, ""},
		{"truncated.tar.xz", fixture[:len(fixture)-40], "", false, "unexpected EOF"},
		{"not xz.txz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, plain...), "", false, "xz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.data == nil {
				t.Skip("bzip2 is not installed, no archive to fetch")
			}
			sandbox := t.TempDir()
			src := filepath.Join(t.TempDir(), tt.name)
			if err := os.WriteFile(src, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			u := mesos.CommandInfo_URI{Value: "file://" + src}
			kept := tt.name
			if tt.output != "" {
				u.OutputFile, kept = &tt.output, tt.output
			}
			_, err := (&Fetcher{}).FetchOne(context.Background(), u, sandbox)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("fetch: %v, want error %q", err, tt.wantErr)
			}
			if fetched, err := os.ReadFile(filepath.Join(sandbox, kept)); err != nil || !bytes.Equal(fetched, tt.data) {
				t.Errorf("the archive itself is not kept whole: %v", err)
			}
			hello, err := os.ReadFile(filepath.Join(sandbox, "app", "hello.txt"))
			switch {
			case !tt.extracted && !errors.Is(err, os.ErrNotExist):
				t.Errorf("app/hello.txt: %q, %v; want the archive left unextracted (or the entry removed)", hello, err)
			case tt.extracted && string(hello) != "hello from the archive\n":
				t.Errorf("app/hello.txt: %q, %v", hello, err)
			}
			if !tt.extracted {
				return
			}
			want := fs.FileMode(0o644) // as tarOf and zipWith write it
			if bytes.Equal(tt.data, fixture) {
				want = 0o755
			}
			if st, err := os.Stat(filepath.Join(sandbox, "app", "bin", "run.sh")); err != nil || st.Mode().Perm() != want {
				t.Errorf("app/bin/run.sh: %v, want mode %v", err, want)
			}
			if target, err := os.Readlink(filepath.Join(sandbox, "app", "lib")); err != nil || target != "bin" {
				t.Errorf("app/lib: %q, %v; want a link to bin", target, err)
			}
		})
	}
}
