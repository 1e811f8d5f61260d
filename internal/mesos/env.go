package mesos

import mesos "github.com/mesos/mesos-go/api/v1/lib"

// CommandEnv is the environment a CommandInfo defines, as KEY=VALUE entries:
// plain values and secret values given inline (a secret by reference has no
// value here and is left out).
func CommandEnv(ci *mesos.CommandInfo) []string {
	if ci == nil || ci.Environment == nil {
		return nil
	}
	var env []string
	for _, v := range ci.Environment.Variables {
		switch {
		case v.Value != nil:
			env = append(env, v.Name+"="+*v.Value)
		case v.Secret != nil && v.Secret.Value != nil:
			env = append(env, v.Name+"="+string(v.Secret.Value.Data))
		}
	}
	return env
}

// SecretValues lists the values of a CommandInfo's SECRET variables given
// inline, which are secret whatever their names (a redactor learns them).
func SecretValues(ci *mesos.CommandInfo) []string {
	if ci == nil || ci.Environment == nil {
		return nil
	}
	var out []string
	for _, v := range ci.Environment.Variables {
		if v.Secret != nil && v.Secret.Value != nil {
			out = append(out, string(v.Secret.Value.Data))
		}
	}
	return out
}
