package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Persistent volumes and pre-reserved roles: what a pod instance reserves,
// as the SDK's DefaultResourceSet, DefaultVolumeSpec and
// YAMLToInternalMappers.getPodRole name it.

// PodVolumes are the pod's own volumes (volume, then volumes): its
// executor's, seen by each of its tasks.
func (p *PodSpec) PodVolumes() []*VolumeSpec { return allVolumes(p.Volume, p.Volumes) }

// TaskVolumes are task t's volumes: its resource set's when it names one,
// else its own.
func (p *PodSpec) TaskVolumes(t *TaskSpec) []*VolumeSpec {
	if t.ResourceSet != "" {
		if rs := p.ResourceSets[t.ResourceSet]; rs != nil {
			return allVolumes(rs.Volume, rs.Volumes)
		}
		return nil
	}
	return allVolumes(t.Volume, t.Volumes)
}

// ResourceSetID is the ID of the resource set task t uses: the one it
// names, else the SDK's default "<task>-resource-set". Tasks sharing a
// resource set share its reservation.
func (p *PodSpec) ResourceSetID(t *TaskSpec) string {
	if t.ResourceSet != "" {
		return t.ResourceSet
	}
	return t.Name + "-resource-set"
}

// UsesResourceSet reports whether a task of p uses the resource set of ID
// id (ResourceSetID).
func (p *PodSpec) UsesResourceSet(id string) bool {
	for _, t := range p.Tasks.Values {
		if t.ResourceSet != "" {
			if t.ResourceSet == id {
				return true
			}
		} else if n, ok := strings.CutSuffix(id, "-resource-set"); ok && n == t.Name {
			return true
		}
	}
	return false
}

// PreReserved is the pod's pre-reserved role, "" when it has none ("*"
// is none, as in the SDK).
func (p *PodSpec) PreReserved() string {
	if p.PreReservedRole == "*" {
		return ""
	}
	return p.PreReservedRole
}

// PodRole is the role pod p's resources are reserved for, given the
// service's role: "<pre-reserved-role>/<role>" for a pod with a
// pre-reserved role (YAMLToInternalMappers.getPodRole), else role.
func (p *PodSpec) PodRole(role string) string {
	if pr := p.PreReserved(); pr != "" {
		return pr + "/" + role
	}
	return role
}

// PreReservedRoles are the distinct pre-reserved roles of s's pods, in
// pod order.
func (s *ServiceSpec) PreReservedRoles() []string {
	var out []string
	for _, p := range s.Pods.Values {
		if pr := p.PreReserved(); pr != "" && !slices.Contains(out, pr) {
			out = append(out, pr)
		}
	}
	return out
}

// HasVolumes reports whether a pod of s has a persistent volume.
func (s *ServiceSpec) HasVolumes() bool {
	for _, p := range s.Pods.Values {
		if len(p.PodVolumes()) > 0 {
			return true
		}
		for _, t := range p.Tasks.Values {
			if len(p.TaskVolumes(t)) > 0 {
				return true
			}
		}
	}
	return false
}

// volumePath is DefaultVolumeSpec's pattern for a container path: one
// name in the sandbox.
var volumePath = regexp.MustCompile(`^[a-zA-Z0-9]+[a-zA-Z0-9_-]*$`)

// volumeSpecs follows DefaultVolumeSpec, DefaultResourceSet.addVolume and
// convertResourceSet: a type ROOT or MOUNT, a size above 0, a path that is
// one name (letters, digits, '_', '-'), no two volumes of a task (or
// resource set) at one path, not volume and volumes together in a task or
// resource set, no profiles on a ROOT volume. A volume of the pod and one
// of its task at the same path, which the SDK would pass to Mesos, are
// refused; so are MOUNT profiles (they select resource provider disks,
// which testenv and scheduler-lite do not have).
func volumeSpecs(_, s *ServiceSpec) Problems {
	var ps Problems
	check := func(path string, v *VolumeSpec) {
		if v.Type != VolumeRoot && v.Type != VolumeMount && s.has(path+".type") {
			ps.add(path+".type", "%q: want ROOT or MOUNT", v.Type)
		}
		if s.has(path+".size") && v.Size <= 0 {
			ps.add(path+".size", "%d: must be greater than zero (MB)", v.Size)
		}
		if s.has(path+".path") && !volumePath.MatchString(v.Path) {
			ps.add(path+".path", "%q: want one name in the sandbox (letters, digits, '_', '-'; starting with a letter or digit)", v.Path)
		}
		switch {
		case len(v.Profiles) > 0 && v.Type == VolumeRoot:
			ps.add(path+".profiles", "a ROOT volume cannot have profiles")
		case len(v.Profiles) > 0:
			ps.add(path+".profiles", "not supported by scheduler-lite (volume profiles select disks of resource providers, which it does not use)")
		}
	}
	// group checks the volumes of one task or resource set (and the pod's
	// own, which every task sees too).
	group := func(path string, volume *VolumeSpec, volumes Ordered[*VolumeSpec], pod map[string]string) {
		if volume != nil && volumes.Len() > 0 {
			ps.add(path+".volumes", "both 'volume' and 'volumes' may not be given")
		}
		seen := map[string]string{}
		each := func(vp string, v *VolumeSpec) {
			check(vp, v)
			if v.Path == "" {
				return
			}
			if other, dup := seen[v.Path]; dup {
				ps.add(vp+".path", "%q is also the path of %s: volumes need distinct paths", v.Path, other)
			} else if other, dup := pod[v.Path]; dup {
				ps.add(vp+".path", "%q is also the path of the pod's volume %s, which every task sees", v.Path, other)
			}
			seen[v.Path] = vp
		}
		if volume != nil {
			each(path+".volume", volume)
		}
		for i, v := range volumes.Values {
			each(path+".volumes."+volumes.Keys[i], v)
		}
	}
	for _, p := range s.Pods.Values {
		pp := podPath(p)
		podPaths := map[string]string{}
		for _, v := range p.PodVolumes() {
			vp := pp + ".volume"
			if v.Name != "" {
				vp = pp + ".volumes." + v.Name
			}
			check(vp, v)
			if other, dup := podPaths[v.Path]; dup && v.Path != "" {
				ps.add(vp+".path", "%q is also the path of %s: volumes need distinct paths", v.Path, other)
			}
			podPaths[v.Path] = vp
		}
		for _, id := range sortedKeys(p.ResourceSets) {
			rs := p.ResourceSets[id]
			group(pp+".resource-sets."+id, rs.Volume, rs.Volumes, podPaths)
		}
		for _, t := range p.Tasks.Values {
			path := taskPath(p, t)
			if t.ResourceSet != "" {
				if t.Volume != nil || t.Volumes.Len() > 0 {
					ps.add(path+".volumes", "the task takes its volumes from resource set %q (the SDK would ignore these)", t.ResourceSet)
				}
				continue
			}
			group(path, t.Volume, t.Volumes, podPaths)
		}
	}
	return ps
}

// validRole follows Mesos' roles::validate: not empty, ".", ".." or
// starting with '-'; no whitespace, control character, '\' or empty part
// between slashes; no part "." or "..".
func validRole(r string) error {
	if r == "" || r == "*" {
		return fmt.Errorf("a role cannot be empty or '*'")
	}
	if strings.ContainsFunc(r, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) || c == '\\' }) {
		return fmt.Errorf("%q: a role cannot hold whitespace, control characters or '\\'", r)
	}
	for _, part := range strings.Split(r, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, "-") {
			return fmt.Errorf("%q: every part between slashes must be a name (not empty, '.', '..' or starting with '-')", r)
		}
	}
	return nil
}

// preReservedRole follows Mesos' role rules for a pod's pre-reserved-role
// (the SDK registers "<pre-reserved-role>/<service role>" for it).
func preReservedRole(_, s *ServiceSpec) Problems {
	var ps Problems
	for _, p := range s.Pods.Values {
		if pr := p.PreReserved(); pr != "" {
			if err := validRole(pr); err != nil {
				ps.add(podPath(p)+".pre-reserved-role", "%v", err)
			}
		}
	}
	return ps
}

// volumesEqual reports whether two volume lists are the same volumes
// (type, size, path and profiles) in any order: the SDK's
// TaskUtils.volumesEqual is CollectionUtils.isEqualCollection, equal
// counts of equal DefaultVolumeSpecs, so reordering svc.yml's volumes map
// changes nothing (a relaunch finds each volume by its path). A volume's
// profiles are a list, compared in order as DefaultVolumeSpec.equals does.
func volumesEqual(a, b []*VolumeSpec) bool {
	if len(a) != len(b) {
		return false
	}
	same := func(x, y *VolumeSpec) bool {
		return x.Type == y.Type && x.Size == y.Size && x.Path == y.Path && slices.Equal(x.Profiles, y.Profiles)
	}
	used := make([]bool, len(b))
next:
	for _, x := range a {
		for i, y := range b {
			if !used[i] && same(x, y) {
				used[i] = true
				continue next
			}
		}
		return false
	}
	return true
}

// taskVolumesCannotChange follows TaskVolumesCannotChange: a task that is in
// both the target and the new configuration keeps its volumes. The pod's
// own volumes may not change either, which the SDK does not check: the
// data of the old ones would be lost.
func taskVolumesCannotChange(old, s *ServiceSpec) Problems {
	var ps Problems
	if old == nil {
		return ps
	}
	for _, p := range s.Pods.Values {
		op := old.Pod(p.Name)
		if op == nil {
			continue
		}
		if !volumesEqual(op.PodVolumes(), p.PodVolumes()) {
			ps.add(podPath(p)+".volumes", "the pod's volumes cannot change (the running pods keep their data on the ones they have)")
		}
		for _, t := range p.Tasks.Values {
			ot, ok := op.Tasks.Get(t.Name)
			if ok && !volumesEqual(op.TaskVolumes(ot), p.TaskVolumes(t)) {
				ps.add(taskPath(p, t)+".volumes", "the task's volumes cannot change (volumes must be equal)")
			}
		}
	}
	return ps
}

// resourceSetVolumesFollowTheirTasks refuses a change of the tasks'
// resource sets that would hand a task another's volumes, or leave its
// own behind. scheduler-lite keeps a pod instance's reservation under its
// resource sets' IDs and, as the SDK's TaskResourceMapper (offer/evaluate,
// with OfferEvaluator.getExistingResourceSetStages taking the TaskInfo of
// a task using the set), maps the resources of each task's previous
// TaskInfo to the set it uses now, whatever the set is called: a renamed
// set, a task moved to another set and two tasks swapping sets (the same
// volumes, which TaskVolumesCannotChange checks) keep each task on its own
// volumes. Refused, for the tasks with volumes in both configurations:
// tasks that shared a set using different sets (one of them would lose
// its volumes' data), tasks of different sets sharing one (one would be
// handed the other's), and a task moving to the set of a task removed
// from the pod (whose volumes go with it). The SDK checks none of it.
func resourceSetVolumesFollowTheirTasks(old, s *ServiceSpec) Problems {
	var ps Problems
	if old == nil {
		return ps
	}
	type move struct {
		t        *TaskSpec
		from, to string
	}
	for _, p := range s.Pods.Values {
		op := old.Pod(p.Name)
		if op == nil {
			continue
		}
		var moves []move
		for _, t := range p.Tasks.Values {
			if ot, ok := op.Tasks.Get(t.Name); ok && (len(op.TaskVolumes(ot)) > 0 || len(p.TaskVolumes(t)) > 0) {
				moves = append(moves, move{t, op.ResourceSetID(ot), p.ResourceSetID(t)})
			}
		}
		for i, b := range moves {
			path := taskPath(p, b.t) + ".resource-set"
			for _, a := range moves[:i] {
				switch {
				case a.from == b.from && a.to != b.to:
					ps.add(path, "tasks %s and %s shared resource set %s, whose volumes can follow only one of them, and would use %s and %s: one would lose its data (keep them together, or move one at a time onto a set of its own)", a.t.Name, b.t.Name, a.from, a.to, b.to)
				case a.from != b.from && a.to == b.to:
					ps.add(path, "tasks %s (on resource set %s) and %s (on %s) would share resource set %s: one of them would be handed the other's volumes", a.t.Name, a.from, b.t.Name, b.from, b.to)
				}
			}
			if b.from == b.to {
				continue
			}
			for _, ot := range op.Tasks.Values {
				if _, kept := p.Tasks.Get(ot.Name); !kept && op.ResourceSetID(ot) == b.to && len(op.TaskVolumes(ot)) > 0 {
					ps.add(path, "task %s would move from resource set %s to %s, the set of removed task %s: %s's volumes are %s's, released with it", b.t.Name, b.from, b.to, ot.Name, b.to, ot.Name)
				}
			}
		}
	}
	return ps
}

// preReservationCannotChange follows PreReservationCannotChange: a pod
// type in both configurations keeps its pre-reserved-role.
func preReservationCannotChange(old, s *ServiceSpec) Problems {
	var ps Problems
	if old == nil {
		return ps
	}
	for _, p := range s.Pods.Values {
		if op := old.Pod(p.Name); op != nil && op.PreReserved() != p.PreReserved() {
			ps.add(podPath(p)+".pre-reserved-role", "cannot change from %q to %q: the pod's resources are reserved for the old role", op.PreReservedRole, p.PreReservedRole)
		}
	}
	return ps
}
