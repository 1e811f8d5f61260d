package mesos

import (
	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/redact"
)

// MaskSecretVolumes returns ci for display: a copy whose SECRET volumes
// given by value hold redact.Mask instead of their data (ci itself is left
// as it is; nil stays nil). The scheduler's pod info and testenv's /state
// show containers through it, so a secret file's content never reaches an
// API answer.
func MaskSecretVolumes(ci *mesos.ContainerInfo) *mesos.ContainerInfo {
	if ci == nil {
		return nil
	}
	c := *ci
	c.Volumes = append([]mesos.Volume(nil), ci.Volumes...)
	for i, v := range c.Volumes {
		s := v.GetSource().GetSecret()
		if s == nil || s.Value == nil {
			continue
		}
		src, sec := *v.Source, *s
		sec.Value = &mesos.Secret_Value{Data: []byte(redact.Mask)}
		src.Secret = &sec
		c.Volumes[i].Source = &src
	}
	return &c
}
