package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// TestPodOverrideNits: the pause and resume answers helper-41's breaker
// found wrong (fault 8): a pod with no task says so plainly; a task named
// twice (or by both its names) is one task, not a 404; a resume of a pod
// that is not paused, or a second pause, changes nothing and says so,
// killing nothing.
func TestPodOverrideNits(t *testing.T) {
	ctx := context.Background()
	t.Run("no task launched", func(t *testing.T) {
		h := newHarness(t, render(t, rolling, "COUNT=1"), nil, nil)
		h.ready()
		for _, tc := range []struct {
			tasks []string
			want  string
		}{
			{nil, "pod web-0 has no launched task: no such task"},
			{[]string{"server"}, "pod web-0 has no launched task: no such task"},
		} {
			_, _, err := h.s.PodOverride(ctx, "web-0", tc.tasks, true)
			if !errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("%v: %v, want %q", tc.tasks, err, tc.want)
			}
		}
	})
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids := deployRolling(t, st, 1)
	h := newHarness(t, render(t, rolling, "COUNT=1"), st, nil)
	h.reconciled(ids)
	if _, _, err := h.s.PodOverride(ctx, "web-0", []string{"server", "nope", "nope"}, true); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "pod web-0 has no launched task nope (it has server)") {
		t.Errorf("an unknown task: %v", err)
	}
	kills := func() int {
		n := 0
		for _, c := range h.master.Calls()[h.since:] {
			if c.Type == tKILL {
				n++
			}
		}
		return n
	}
	h.mark()
	names, changed, err := h.s.PodOverride(ctx, "web-0", nil, false)
	if err != nil || changed || !slices.Equal(names, []string{"web-0-server"}) {
		t.Errorf("resume of a running pod: %v %v %v, want nothing changed", names, changed, err)
	}
	h.skip()
	if n := kills(); n != 0 {
		t.Errorf("resume of a running pod killed %d tasks", n)
	}
	names, changed, err = h.s.PodOverride(ctx, "web-0", []string{"server", "server", "web-0-server"}, true)
	if err != nil || !changed || !slices.Equal(names, []string{"web-0-server"}) {
		t.Fatalf("pause naming server thrice: %v %v %v", names, changed, err)
	}
	h.awaitCall(tKILL, killOf(ids["web-0-server"]))
	h.update(ids["web-0-server"], "a0", mesos.TASK_KILLED)
	h.tick(time.Second)
	h.skip()
	h.master.Send(t, sdktest.Offers(h.offer("p1", "a0", "ha0")))
	ti := launched(h.master.Expect(t, tACCEPT)[0])[0]
	h.update(ti.TaskID.Value, "a0", mesos.TASK_RUNNING)
	h.eventually("PAUSED", func() bool { ps, _ := h.s.PodStatus("web-0"); return ps.Tasks[0].Status == "PAUSED" })
	h.mark()
	if _, changed, err := h.s.PodOverride(ctx, "web-0", []string{"server"}, true); err != nil || changed {
		t.Errorf("pause of a paused pod: %v %v, want nothing changed", changed, err)
	}
	h.skip()
	if n := kills(); n != 0 {
		t.Errorf("pause of a paused pod killed %d tasks", n)
	}
}
