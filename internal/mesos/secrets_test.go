package mesos

import (
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/redact"
)

// TestMaskSecretVolumes: a secret volume's value is masked in the copy and
// kept in the original; other volumes are untouched.
func TestMaskSecretVolumes(t *testing.T) {
	if MaskSecretVolumes(nil) != nil {
		t.Error("nil")
	}
	host := "tmp"
	ci := &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Volumes: []mesos.Volume{
		{ContainerPath: "/tmp", HostPath: &host, Mode: mesos.RW.Enum()},
		{ContainerPath: "keytab", Mode: mesos.RO.Enum(), Source: &mesos.Volume_Source{Type: mesos.Volume_Source_SECRET,
			Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte("s3cr3t")}}}},
	}}
	m := MaskSecretVolumes(ci)
	b, _ := m.Marshal()
	if strings.Contains(string(b), "s3cr3t") || string(m.Volumes[1].Source.Secret.Value.Data) != redact.Mask || m.Volumes[0].GetHostPath() != "tmp" {
		t.Errorf("masked: %v", m)
	}
	if string(ci.Volumes[1].Source.Secret.Value.Data) != "s3cr3t" {
		t.Error("the original was changed")
	}
}

func TestMaskCommand(t *testing.T) {
	if MaskCommand(nil) != nil {
		t.Error("nil")
	}
	str := func(s string) *string { return &s }
	cmd := &mesos.CommandInfo{
		Value:     str("curl -u admin:hunter2pw http://localhost/health"),
		Arguments: []string{"--password=hunter2pw", "plain"},
		Environment: &mesos.Environment{Variables: []mesos.Environment_Variable{
			{Name: "LOG_LEVEL", Value: str("debug")},
			{Name: "DB_PASSWORD", Value: str("hunter2pw")},
			{Name: "KEY", Type: mesos.Environment_Variable_SECRET.Enum(), Secret: &mesos.Secret{Type: mesos.Secret_VALUE, Value: &mesos.Secret_Value{Data: []byte("hunter2pw")}}},
			{Name: "REF", Type: mesos.Environment_Variable_SECRET.Enum(), Secret: &mesos.Secret{Type: mesos.Secret_REFERENCE, Reference: &mesos.Secret_Reference{Name: "/db/pw"}}},
		}},
	}
	before, _ := cmd.Marshal()
	m := MaskCommand(cmd)
	b, _ := m.Marshal()
	for _, c := range []struct{ what, got, want string }{
		{"value", m.GetValue(), "curl -u admin:" + redact.Mask + " http://localhost/health"},
		{"arguments", strings.Join(m.Arguments, " "), "--password=" + redact.Mask + " plain"},
		{"plain variable", m.Environment.Variables[0].GetValue(), "debug"},
		{"secret-named variable", m.Environment.Variables[1].GetValue(), redact.Mask},
		{"SECRET by value", string(m.Environment.Variables[2].Secret.Value.Data), redact.Mask},
		{"SECRET by reference", m.Environment.Variables[3].Secret.Reference.Name, "/db/pw"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	if strings.Contains(string(b), "hunter2pw") {
		t.Errorf("masked command still has the secret: %v", m)
	}
	if after, _ := cmd.Marshal(); string(after) != string(before) {
		t.Error("the original was changed")
	}
}
