package service

import (
	"slices"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/taskkit/taskkit/internal/plan"
	"github.com/taskkit/taskkit/internal/sdk/sdktest"
)

// idleWithLeftover runs decommissionReplaced to its end: the deploy and
// the decommission COMPLETE, the only thing left what web-1 left on the
// dead agent a1 (releasing). A live agent a0 (running web-0) then offers:
// it returns the harness, marked before that offer, and the DECLINE.
func idleWithLeftover(t *testing.T) (*harness, *scheduler.Call) {
	t.Helper()
	_, h, _ := decommissionReplaced(t)
	h.eventually("decommission COMPLETE, web-1's leftover on a1 releasing", func() bool {
		if h.s.PlanStatus(plan.Decommission) != plan.Complete {
			return false
		}
		for _, r := range h.s.Reservations() {
			if r.Instance == "web-1" && r.AgentID == "a1" && r.Releasing {
				return true
			}
		}
		return false
	})
	h.skip()
	h.mark()
	h.master.Send(t, sdktest.Offers(h.offer("o0", "a0", "ha0")))
	d := h.awaitCall(tDECLINE, func(c *scheduler.Call) bool {
		return slices.ContainsFunc(c.GetDecline().GetOfferIDs(), func(id mesos.OfferID) bool { return id.Value == "o0" })
	})
	return h, d
}

// callsSince returns the types of the calls made since the last mark, once the
// outbox has sent what the loop decided.
func (h *harness) callsSince() []scheduler.Call_Type {
	h.t.Helper()
	h.onLoop(func() {})
	h.eventually("the outbox drained", h.s.out.idle)
	var out []scheduler.Call_Type
	for _, c := range h.master.Calls()[h.since:] {
		out = append(out, c.Type)
	}
	return out
}

// TestReleasedLeftoverIsNoWork: what a pod replaced off an agent gone for
// good left there stays tracked (releasing) forever, and it is no work:
// the SDK releases unexpected resources only from the offers it gets
// anyway (DefaultScheduler.getUnexpectedResources) and declines offers it
// has nothing to do with long (OfferProcessor.processOffers: declineLong).
// A live agent's offer with nothing to launch or release is declined for
// RefuseLong, and no REVIVE follows, tick after tick: not every agent's
// offers every second, declined, forever. Offers are not suppressed
// either, so that a1, when it comes back, still offers and gets its
// leftover released.
func TestReleasedLeftoverIsNoWork(t *testing.T) {
	h, d := idleWithLeftover(t)
	if got := d.GetDecline().GetFilters().GetRefuseSeconds(); got != time.Hour.Seconds() {
		t.Fatalf("a0's offer, nothing to do with it, declined for %v s, want RefuseLong (%v s)", got, time.Hour.Seconds())
	}
	for range 5 {
		h.tick(time.Second)
	}
	if got := h.callsSince(); slices.Contains(got, tREVIVE) || slices.Contains(got, tSUPPRESS) {
		t.Fatalf("calls over five idle ticks %v, want neither REVIVE nor SUPPRESS", got)
	}

	// a1 comes back: its leftover is released from its offer.
	h.mark()
	h.master.Send(t, sdktest.Offers(h.offer("r1", "a1", "ha1")))
	if got := opTypes(h.awaitCall(tACCEPT, nil)); !slices.Equal(got, []string{"DESTROY", "UNRESERVE"}) {
		t.Fatalf("release on a1 %v", got)
	}
}

// TestWorkAfterLongDeclinesRevives: offers declined for RefuseLong (the
// leftover on a1 being no work) are revived as soon as real work appears,
// as the SDK revives on new work (OfferProcessor.checkStatus: hasNewWork →
// requestRevive): web-0's task fails, a REVIVE follows, and a0's offer
// relaunches it.
func TestWorkAfterLongDeclinesRevives(t *testing.T) {
	h, d := idleWithLeftover(t)
	if got := d.GetDecline().GetFilters().GetRefuseSeconds(); got != time.Hour.Seconds() {
		t.Fatalf("a0's offer declined for %v s, want RefuseLong", got)
	}
	var id string
	h.onLoop(func() { id = h.s.tasks["web-0-server"].info.TaskID.Value })
	h.mark()
	h.update(id, "a0", mesos.TASK_FAILED)
	h.eventually("web-0 recovering", func() bool { return h.stepStatus(plan.Recovery, "web-0:[server]") != "" })
	h.tick(2 * time.Second) // past a DELAYED step's backoff
	h.tick(time.Second)
	h.awaitCall(tREVIVE, nil)
	h.master.Send(t, sdktest.Offers(h.offer("o1", "a0", "ha0")))
	tis := launched(h.awaitCall(tACCEPT, func(c *scheduler.Call) bool { return len(launched(c)) > 0 }))
	if len(tis) != 1 || tis[0].Name != "web-0-server" || tis[0].AgentID.Value != "a0" {
		t.Fatalf("relaunched %v", names(tis))
	}
}
