package spec

import (
	"strings"
	"testing"
)

// twoPods is a running target: web (3, no decommission) and side (1,
// allow-decommission), as the transition cases change it.
const twoPods = `name: svc
scheduler:
  user: alice
pods:
  web:
    count: 3
    tasks:
      server: {cmd: "sleep 1000", cpus: 0.1, memory: 32}
  side:
    count: 1
    allow-decommission: true
    tasks:
      helper: {cmd: "sleep 1000", cpus: 0.1, memory: 32}
`

// TestTransitions runs every transition validator against a running
// target, one case per rule and per way through it; together the cases
// exercise each one (the verdict files, first deployments, cannot).
func TestTransitions(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // svc.yml; old "" is a first deployment
		want     []string
	}{
		{"first deployment", "", strings.Replace(twoPods, "count: 3", "count: 1", 1), nil},
		{"unchanged", twoPods, twoPods, nil},
		{"count grows", twoPods, strings.Replace(twoPods, "count: 3", "count: 5", 1), nil},
		{"count shrinks", twoPods, strings.Replace(twoPods, "count: 3", "count: 2", 1), []string{
			"PodSpecsCannotShrink: pods.web.count: 2: pod web cannot shrink from 3 instances without allow-decommission: true (line 6)"}},
		{"count shrinks with allow-decommission", twoPods, strings.Replace(twoPods, "count: 3", "count: 2\n    allow-decommission: true", 1), nil},
		{"allowed before, not now", strings.Replace(twoPods, "count: 3", "count: 3\n    allow-decommission: true", 1),
			strings.Replace(twoPods, "count: 3", "count: 1", 1), []string{
				"PodSpecsCannotShrink: pods.web.count: 1: pod web cannot shrink from 3 instances without allow-decommission: true (line 6)"}},
		{"pod type that allowed it removed", twoPods, twoPods[:strings.Index(twoPods, "  side:")], nil},
		{"pod type removed without allow-decommission", twoPods, strings.Replace(twoPods, "  web:\n    count: 3\n    tasks:\n      server: {cmd: \"sleep 1000\", cpus: 0.1, memory: 32}\n", "", 1), []string{
			"PodSpecsCannotShrink: pods: pod web (3 instances) is missing: a pod type can be removed only when the running configuration gives it allow-decommission: true (line 4)"}},
		{"new pod type", twoPods, twoPods + "  more:\n    count: 2\n    tasks:\n      t: {cmd: x, cpus: 1}\n", nil},
		{"service user changes", twoPods, strings.Replace(twoPods, "user: alice", "user: bob", 1), []string{
			`UserCannotChange: scheduler.user: "bob": the service's user cannot change from "alice" (scheduler.user, else --user): revert it to "alice" (line 3)`}},
		{"service user set where it was not", strings.Replace(twoPods, "scheduler:\n  user: alice\n", "", 1), twoPods, nil},
		{"pod user changes", strings.Replace(twoPods, "    count: 1\n", "    count: 1\n    user: alice\n", 1),
			strings.Replace(twoPods, "    count: 1\n", "    count: 1\n    user: carol\n", 1), []string{
				`UserCannotChange: pods.side.user: "carol": pod side's user cannot change from "alice": revert it to "alice" (line 11)`}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var old *ServiceSpec
			if tc.old != "" {
				var err error
				if old, err = Decode([]byte(tc.old)); err != nil {
					t.Fatal(err)
				}
			}
			next, err := Decode([]byte(tc.new))
			if err != nil {
				t.Fatal(err)
			}
			errs, _ := Check(old, next).split()
			var got []string
			for _, p := range errs {
				got = append(got, p.Rule+": "+p.Error())
				seen[p.Rule] = true
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	for name := range transitions {
		if !seen[name] {
			t.Errorf("no case refuses a change with %s", name)
		}
	}
}

// TestDecode reads a stored (rendered) configuration back without
// rendering it again: "{{X}}" in a value stays as it is.
func TestDecode(t *testing.T) {
	s, err := Decode([]byte(strings.Replace(minimal, "sleep 1000", `echo "{{X}}"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if task, _ := s.Pod("hello").Tasks.Get("server"); task.Cmd != `echo "{{X}}"` || task.Goal != GoalRunning {
		t.Errorf("task %+v", task)
	}
	if _, err := Decode([]byte("name: x\npods: {p: {count: lots}}\n")); err == nil || !strings.Contains(err.Error(), "pods.p.count") {
		t.Errorf("bad configuration: %v", err)
	}
}
