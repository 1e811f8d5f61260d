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
