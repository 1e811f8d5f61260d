package spec

import (
	"strings"
	"testing"
)

// volumeTransitions are the volume validators that only compare a running
// target with a new configuration: a single file cannot exercise them, so
// TestVerdicts leaves them to TestVolumeTransitions.
var volumeTransitions = map[string]bool{"TaskVolumesCannotChange": true, "PreReservationCannotChange": true}

const volumesTarget = `name: svc
pods:
  app:
    count: 1
    pre-reserved-role: slave_public
    volume: {path: shared, type: ROOT, size: 10}
    tasks:
      server:
        cmd: sleep 1000
        cpus: 0.1
        volumes:
          data: {path: data, type: ROOT, size: 100}
      other:
        cmd: sleep 1000
        cpus: 0.1
`

// TestVolumeTransitions runs the volume transition validators against a
// target, one change at a time, and checks each of them is exercised.
func TestVolumeTransitions(t *testing.T) {
	old, probs, err := decodeSpec([]byte(volumesTarget), nil)
	if err != nil || len(probs) > 0 {
		t.Fatal(err, probs)
	}
	seen := map[string]bool{}
	for _, tt := range []struct {
		name, from, to string
		want           string // "" for none
	}{
		{name: "unchanged"},
		{name: "count up", from: "count: 1", to: "count: 3"},
		{name: "task volume size", from: "size: 100", to: "size: 200", want: "TaskVolumesCannotChange: pods.app.tasks.server.volumes: the task's volumes cannot change (volumes must be equal) (line 11)"},
		{name: "task volume path", from: "path: data", to: "path: data2", want: "TaskVolumesCannotChange: pods.app.tasks.server.volumes"},
		{name: "volume added to a task", from: "      other:\n        cmd: sleep 1000\n", to: "      other:\n        cmd: sleep 1000\n        volume: {path: x, type: ROOT, size: 1}\n", want: "TaskVolumesCannotChange: pods.app.tasks.other.volumes"},
		{name: "pod volume", from: "path: shared, type: ROOT", to: "path: shared, type: MOUNT", want: "TaskVolumesCannotChange: pods.app.volumes: the pod's volumes cannot change"},
		{name: "pre-reserved role", from: "pre-reserved-role: slave_public", to: "pre-reserved-role: other", want: `PreReservationCannotChange: pods.app.pre-reserved-role: cannot change from "slave_public" to "other"`},
		{name: "pre-reserved role dropped", from: "    pre-reserved-role: slave_public\n", to: "", want: `PreReservationCannotChange: pods.app.pre-reserved-role: cannot change from "slave_public" to ""`},
		{name: "task removed", from: "      other:\n        cmd: sleep 1000\n        cpus: 0.1\n", to: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next, probs, err := decodeSpec([]byte(strings.Replace(volumesTarget, tt.from, tt.to, 1)), nil)
			if err != nil || len(probs) > 0 {
				t.Fatal(err, probs)
			}
			var got []string
			for _, p := range Check(old, next) {
				got = append(got, p.Rule+": "+p.Error())
				seen[p.Rule] = true
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tt.want)):
				t.Errorf("problems %q, want one starting %q", got, tt.want)
			}
		})
	}
	for r := range volumeTransitions {
		if !seen[r] {
			t.Errorf("no case exercises %s", r)
		}
	}
}

// TestVolumesEqual: volumes compare as a multiset, as the SDK's
// CollectionUtils.isEqualCollection does: any order, equal counts of
// equal volumes; a volume's profiles are a list and keep their order.
func TestVolumesEqual(t *testing.T) {
	data := &VolumeSpec{Path: "data", Type: VolumeRoot, Size: 100}
	logs := &VolumeSpec{Path: "logs", Type: VolumeRoot, Size: 50}
	bigLogs := &VolumeSpec{Path: "logs", Type: VolumeRoot, Size: 60}
	ab := &VolumeSpec{Path: "m", Type: VolumeMount, Size: 1, Profiles: []string{"a", "b"}}
	ba := &VolumeSpec{Path: "m", Type: VolumeMount, Size: 1, Profiles: []string{"b", "a"}}
	for _, tt := range []struct {
		name string
		a, b []*VolumeSpec
		want bool
	}{
		{name: "none", want: true},
		{name: "same order", a: []*VolumeSpec{data, logs}, b: []*VolumeSpec{data, logs}, want: true},
		{name: "other order", a: []*VolumeSpec{data, logs}, b: []*VolumeSpec{logs, data}, want: true},
		{name: "other order, one resized", a: []*VolumeSpec{data, logs}, b: []*VolumeSpec{bigLogs, data}},
		{name: "one added", a: []*VolumeSpec{data}, b: []*VolumeSpec{logs, data}},
		{name: "one removed", a: []*VolumeSpec{data, logs}, b: []*VolumeSpec{logs}},
		{name: "counts differ", a: []*VolumeSpec{data, data, logs}, b: []*VolumeSpec{data, logs, logs}},
		{name: "profiles reordered", a: []*VolumeSpec{ab}, b: []*VolumeSpec{ba}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := volumesEqual(tt.a, tt.b); got != tt.want {
				t.Errorf("volumesEqual(a, b) = %v, want %v", got, tt.want)
			}
			if got := volumesEqual(tt.b, tt.a); got != tt.want {
				t.Errorf("volumesEqual(b, a) = %v, want %v", got, tt.want)
			}
		})
	}
}

// resourceSetTransition compares a running target with a new
// configuration: TestResourceSetVolumesFollowTheirTasks exercises it.
const resourceSetTransition = "ResourceSetVolumesFollowTheirTasks"

// resourceSetsTarget has tasks a and b on resource sets x and y, c and d
// sharing z (one at a time), all with a volume at data, e with its own
// resources and no volume, f on s, which has none.
const resourceSetsTarget = `name: svc
pods:
  p:
    count: 1
    resource-sets:
      x: {cpus: 0.1, memory: 32, volume: {path: data, type: ROOT, size: 100}}
      y: {cpus: 0.1, memory: 32, volume: {path: data, type: ROOT, size: 100}}
      z: {cpus: 0.1, memory: 32, volume: {path: data, type: ROOT, size: 100}}
      w: {cpus: 0.1, memory: 32, volume: {path: data, type: ROOT, size: 100}}
      s: {cpus: 0.1, memory: 32}
    tasks:
      a: {cmd: sleep 1000, resource-set: x}
      b: {cmd: sleep 1000, resource-set: y}
      c: {cmd: sleep 1000, resource-set: z, goal: FINISH}
      d: {cmd: sleep 1000, resource-set: z, goal: FINISH}
      e: {cmd: sleep 1000, cpus: 0.1}
      f: {cmd: sleep 1000, resource-set: s, goal: FINISH}
`

// TestResourceSetVolumesFollowTheirTasks: tasks keep their volumes
// through renamed sets, moves and swaps (each task's previous TaskInfo
// names its own); what cannot be mapped without handing a task another's
// volumes or leaving its own behind is refused, naming the tasks and sets.
func TestResourceSetVolumesFollowTheirTasks(t *testing.T) {
	old, probs, err := decodeSpec([]byte(resourceSetsTarget), nil)
	if err != nil || len(probs) > 0 {
		t.Fatal(err, probs)
	}
	for _, tt := range []struct {
		name string
		edit []string // pairs: from, to
		want string   // "" for none
	}{
		{name: "unchanged"},
		{name: "swapped", edit: []string{"resource-set: x}", "resource-set: Y}", "resource-set: y}", "resource-set: x}", "Y}", "y}"}},
		{name: "renamed", edit: []string{"      x: {", "      v: {", "resource-set: x}", "resource-set: v}"}},
		{name: "a shared set renamed", edit: []string{"      z: {", "      v: {", "resource-set: z, goal", "resource-set: v, goal", "resource-set: z, goal", "resource-set: v, goal"}},
		{name: "moved to an unused set", edit: []string{"resource-set: x}", "resource-set: w}"}},
		{name: "moved off a shared set with its volume", edit: []string{"d: {cmd: sleep 1000, resource-set: z", "d: {cmd: sleep 1000, resource-set: w"},
			want: "pods.p.tasks.d.resource-set: tasks c and d shared resource set z, whose volumes can follow only one of them, and would use z and w: one would lose its data"},
		{name: "moved onto a set in use", edit: []string{"resource-set: x}", "resource-set: y}"},
			want: "pods.p.tasks.b.resource-set: tasks a (on resource set x) and b (on y) would share resource set y: one of them would be handed the other's volumes"},
		{name: "moved onto a removed task's set", edit: []string{"      b: {cmd: sleep 1000, resource-set: y}\n", "", "resource-set: x}", "resource-set: y}"},
			want: "pods.p.tasks.a.resource-set: task a would move from resource set x to y, the set of removed task b: y's volumes are b's, released with it"},
		// No volume, no data to mix: e's old resources are released.
		{name: "a task without volumes moved onto a set in use", edit: []string{"e: {cmd: sleep 1000, cpus: 0.1}", "e: {cmd: sleep 1000, resource-set: s, goal: FINISH}"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			y := resourceSetsTarget
			for i := 0; i+1 < len(tt.edit); i += 2 {
				if !strings.Contains(y, tt.edit[i]) {
					t.Fatalf("no %q in the target", tt.edit[i])
				}
				y = strings.Replace(y, tt.edit[i], tt.edit[i+1], 1)
			}
			next, probs, err := decodeSpec([]byte(y), nil)
			if err != nil || len(probs) > 0 {
				t.Fatal(err, probs, y)
			}
			var got []string
			for _, p := range Check(old, next) {
				if !p.Warning {
					got = append(got, p.Rule+": "+p.Error())
				}
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems %q, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("problems %q, want one with %q", got, tt.want)
			case tt.want != "" && !strings.HasPrefix(got[0], resourceSetTransition+": "):
				t.Errorf("problem %q, want one of %s", got[0], resourceSetTransition)
			}
		})
	}
}
