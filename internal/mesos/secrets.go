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

// MaskCommand returns cmd for display: a copy whose environment's SECRET
// variables given by value hold redact.Mask instead of their data, whose
// other variables' values are masked as redact masks an environment (a
// secret-named variable's whole value, credentials in the others), and
// whose value and arguments have their credentials masked
// (redact.Credentials). cmd itself is left as it is; nil stays nil.
// testenv's /state and /tasks show a task's health check through it.
func MaskCommand(cmd *mesos.CommandInfo) *mesos.CommandInfo {
	if cmd == nil {
		return nil
	}
	c := *cmd
	if c.Value != nil {
		v := redact.Credentials(*c.Value)
		c.Value = &v
	}
	c.Arguments = make([]string, len(cmd.Arguments))
	for i, a := range cmd.Arguments {
		c.Arguments[i] = redact.Credentials(a)
	}
	if cmd.Arguments == nil {
		c.Arguments = nil
	}
	if cmd.Environment != nil {
		env := *cmd.Environment
		env.Variables = append([]mesos.Environment_Variable(nil), cmd.Environment.Variables...)
		r := redact.Default()
		for i, v := range env.Variables {
			if v.Value != nil {
				masked := r.Value(v.Name, *v.Value)
				env.Variables[i].Value = &masked
			}
			if s := v.GetSecret(); s != nil && s.Value != nil {
				sec := *s
				sec.Value = &mesos.Secret_Value{Data: []byte(redact.Mask)}
				env.Variables[i].Secret = &sec
			}
		}
		c.Environment = &env
	}
	return &c
}
