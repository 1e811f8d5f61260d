package service

import (
	"testing"

	"github.com/taskkit/taskkit/internal/sdk/reservation"
)

// statefulRenamed is stateful with web's server on a named resource set
// (storage) instead of its own (server-resource-set): the same resources
// and volume under another name.
const statefulRenamed = `name: svc
pods:
  web:
    count: {{COUNT}}
    {{#DECOMMISSION}}allow-decommission: true{{/DECOMMISSION}}
    resource-sets:
      storage:
        cpus: 0.1
        memory: 32
        volume: {path: data, type: ROOT, size: 100}
    tasks:
      server:
        cmd: "exec sleep 600"
        resource-set: storage
`

// TestRenameWithAbortedScaleDown: a scale-down (3 to 1) begins, web-2 is
// killed and its unreserve step marks its reservation releasing, no offer
// of its agent comes; the scheduler restarts with count 3 again and the
// server's resource set renamed. The SDK keeps web-2's resources: its
// decommission plan is rebuilt without it (DecommissionPlanFactory.
// buildPlanInfo clears the DECOMMISSIONED override of a task no longer to
// decommission) and its TaskResourceMapper maps the previous TaskInfo's
// resources to the renamed set's specs by name and container path
// (offer/evaluate/TaskResourceMapper.java), so web-2 is relaunched on its
// own reservation and volume. New must run keepAborted before
// followRenames: the rename skips a releasing reservation, so the other
// way round keepAborted took web-2's back under the old set's name, and
// it stayed keyed by a set the pod no longer has.
func TestRenameWithAbortedScaleDown(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	ids, web2 := abortedScaleDown(t, st)

	h := newHarness(t, render(t, statefulRenamed, "COUNT=3", "DECOMMISSION=true"), st, nil)
	// web-1, never decommissioned, is renamed at start; web-2 must be too.
	for _, inst := range []string{"web-1", "web-2"} {
		r := storedReservation(t, h, inst)
		if r == nil {
			t.Fatalf("%s holds no reservation", inst)
		}
		for key := range itemIDs(r) {
			if o := reservation.Owner(key); o != reservation.KeyExecutor && o != reservation.KeyPod && o != "storage" {
				t.Errorf("%s: stored item %s is keyed by set %s, which the pod no longer has (want storage)", inst, key, o)
			}
		}
	}
	awaitWeb2InPlace(t, h, ids, web2)
}
