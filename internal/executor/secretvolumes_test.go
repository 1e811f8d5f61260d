package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// TestWriteSecretVolumes checks how a task's SECRET volumes reach its
// sandbox: files with the value, mode 0400, directories made; a reference,
// a path leaving the sandbox, or an existing file fail the launch with an
// error that names the path and never the value; a directory on the way
// that the task replaced with a link to the outside fails the launch with
// nothing written there.
func TestWriteSecretVolumes(t *testing.T) {
	const value = "s3cr3t-value"
	secret := func(path string, ref bool) mesos.Volume {
		s := &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte(value)}}
		if ref {
			s = &mesos.Secret{Type: mesos.Secret_REFERENCE, Reference: &mesos.Secret_Reference{Name: "/x"}}
		}
		return mesos.Volume{ContainerPath: path, Mode: mesos.RO.Enum(), Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SECRET, Secret: s}}
	}
	for _, tc := range []struct {
		name    string
		volumes []mesos.Volume
		files   []string
		want    string // substring of the error; "" means written
	}{
		{"none", nil, nil, ""},
		{"one at the top", []mesos.Volume{secret("keytab", false)}, []string{"keytab"}, ""},
		{"nested, two", []mesos.Volume{secret("probe/secret3", false), secret("probe/other", false)}, []string{"probe/secret3", "probe/other"}, ""},
		{"other volumes are left alone", []mesos.Volume{{ContainerPath: "/tmp", HostPath: str("tmp"), Mode: mesos.RW.Enum()}, secret("k", false)}, []string{"k"}, ""},
		{"by reference", []mesos.Volume{secret("k", true)}, nil, `secret volume at "k": only secrets given by value`},
		{"absolute", []mesos.Volume{secret("/etc/k", false)}, nil, `secret volume at "/etc/k": the path must stay inside the sandbox`},
		{"leaving the sandbox", []mesos.Volume{secret("../k", false)}, nil, "must stay inside the sandbox"},
		{"twice", []mesos.Volume{secret("k", false), secret("k", false)}, nil, `secret volume at "k"`},
		{"under a planted link", []mesos.Volume{secret("linked/k", false)}, nil, "tasks/t/linked is a symbolic link"},
		{"over a planted link", []mesos.Volume{secret("planted", false)}, nil, `secret volume at "planted"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outside := t.TempDir()
			_, td, dir := taskDir(t, t.TempDir())
			if err := os.Symlink(outside, filepath.Join(dir, "linked")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(outside, "k"), filepath.Join(dir, "planted")); err != nil {
				t.Fatal(err)
			}
			ti := &mesos.TaskInfo{}
			if tc.volumes != nil {
				ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Volumes: tc.volumes}
			}
			err := writeSecretVolumes(ti, td)
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("%d files written outside the sandbox", len(ents))
			}
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), value) {
					t.Fatalf("error %v, want %q (and no value)", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := os.ReadFile(filepath.Join(dir, f))
				if fi.Mode().Perm() != 0o400 || string(b) != value {
					t.Errorf("%s: mode %v, content %q", f, fi.Mode(), b)
				}
			}
		})
	}
}
