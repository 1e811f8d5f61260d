package spec

// The transition validators: the SDK's config/validate checks that compare
// the running target configuration (old) with a new one (next). They find
// nothing on a first deployment (old nil). scheduler-lite's configuration
// updater (internal/sdk/config) runs them, with every other validator,
// through Check; a configuration they refuse does not become the target.

// transitions names the validators that only compare with a running
// target: testdata/verdicts (first deployments) cannot exercise them;
// TestTransitions does.
var transitions = map[string]bool{"PodSpecsCannotShrink": true, "UserCannotChange": true}

// Decode decodes a rendered svc.yml, as a stored configuration keeps it,
// into a ServiceSpec with its names and defaults, without rendering it
// again, reading its templates or validating it (it was validated when it
// became the target). The error lists the decoding problems.
func Decode(rendered []byte) (*ServiceSpec, error) {
	s, probs, err := decodeSpec(rendered, nil)
	if err != nil {
		return nil, err
	}
	if errs, _ := probs.split(); len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// podSpecsCannotShrink follows PodSpecsCannotShrink: a pod type of the
// running configuration may disappear only if it allowed decommissioning
// there (allow-decommission: true), and a pod's count may go down only if
// the new configuration allows decommissioning. What goes away is then
// decommissioned (killed, released, erased), highest index first.
func podSpecsCannotShrink(old, s *ServiceSpec) Problems {
	var ps Problems
	if old == nil {
		return ps
	}
	for _, op := range old.Pods.Values {
		np := s.Pod(op.Name)
		switch {
		case np == nil && !op.AllowDecommission:
			ps.add("pods", "pod %s (%d instances) is missing: a pod type can be removed only when the running configuration gives it allow-decommission: true", op.Name, op.Count)
		case np != nil && np.Count < op.Count && !np.AllowDecommission:
			ps.add(podPath(np)+".count", "%d: pod %s cannot shrink from %d instances without allow-decommission: true", np.Count, np.Name, op.Count)
		}
	}
	return ps
}

// serviceUser is the framework user a spec names ("" when none).
func serviceUser(s *ServiceSpec) string {
	if s.Scheduler == nil {
		return ""
	}
	return s.Scheduler.User
}

// userCannotChange follows UserCannotChange: the service's user
// (scheduler.user; the configuration updater fills in the user the
// framework registered with, --user or $USER, as the SDK fills in root)
// and the user of every pod type both configurations have stay the same.
// The SDK makes this a fatal error; scheduler-lite keeps the running
// target, as for every refused change.
func userCannotChange(old, s *ServiceSpec) Problems {
	var ps Problems
	if old == nil {
		return ps
	}
	if ou, nu := serviceUser(old), serviceUser(s); ou != "" && ou != nu {
		ps.add("scheduler.user", "%q: the service's user cannot change from %q (scheduler.user, else --user): revert it to %q", nu, ou, ou)
	}
	for _, np := range s.Pods.Values {
		if op := old.Pod(np.Name); op != nil && op.User != np.User {
			ps.add(podPath(np)+".user", "%q: pod %s's user cannot change from %q: revert it to %q", np.User, np.Name, op.User, op.User)
		}
	}
	return ps
}
