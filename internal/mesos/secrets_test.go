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
