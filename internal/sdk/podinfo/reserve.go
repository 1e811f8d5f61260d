package podinfo

import (
	"slices"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/taskkit/taskkit/internal/sdk/reservation"
)

// Reservations is the builder step that reserves, as the SDK's
// OfferAccepter sends its ReserveOfferRecommendations and
// CreateOfferRecommendations: the recommendation's UNRESERVE (reservations
// shrunk), RESERVE (new or grown, with an operation ID whose
// UPDATE_OPERATION_STATUS confirms the new items), then CREATE (volumes)
// go before the LAUNCH_GROUPs; every task of the pod sees the pod's volumes
// through its executor (a SANDBOX_PATH volume of type PARENT, as the SDK's
// PodInfoBuilder.setExecutorVolume gives the default executor); and the
// launch carries the pod instance's Reservation, for the scheduler to
// store before it accepts.
type Reservations struct {
	// NewID names the RESERVE operation.
	NewID func() string
}

// Name implements Step.
func (Reservations) Name() string { return "reservations" }

// Build implements Step.
func (s Reservations) Build(l *Launch) error {
	rec := l.Rec
	if rec.Reservation == nil {
		return nil
	}
	res := rec.Reservation.Clone()
	var ops []mesos.Offer_Operation
	if len(rec.Unreserve) > 0 {
		ops = append(ops, calls.OpUnreserve(rec.Unreserve...))
	}
	if len(rec.Reserve) > 0 {
		op := calls.OpReserve(rec.Reserve...)
		if len(rec.Reserved) > 0 {
			id := reservation.ReserveOpID(rec.Req.Instance(), s.NewID())
			op.ID = &mesos.OperationID{Value: id}
			for i := range res.Items {
				if slices.Contains(rec.Reserved, res.Items[i].Key) {
					res.Items[i].Op, res.Items[i].OpKind = id, reservation.OpReserve
				}
			}
		}
		ops = append(ops, op)
	}
	if len(rec.Create) > 0 {
		ops = append(ops, calls.OpCreate(rec.Create...))
	}
	l.Operations = append(ops, l.Operations...)
	l.Reservation = res
	for _, v := range rec.Req.Pod.PodVolumes() {
		for _, ti := range l.TaskInfos {
			c := container(ti)
			c.Volumes = append(c.Volumes, executorVolume(v.Path))
		}
	}
	return nil
}

// executorVolume is a task's view of its executor's volume at path: the
// same path in the task's sandbox.
func executorVolume(path string) mesos.Volume {
	return mesos.Volume{Mode: mesos.RW.Enum(), ContainerPath: path, Source: &mesos.Volume_Source{
		Type:        mesos.Volume_Source_SANDBOX_PATH,
		SandboxPath: &mesos.Volume_Source_SandboxPath{Type: mesos.Volume_Source_SandboxPath_PARENT, Path: path},
	}}
}

// Released returns the operations that give offered reservations up:
// DESTROY their volumes (as offered), then UNRESERVE them all (the SDK's
// DestroyOfferRecommendation and UnreserveOfferRecommendation), the
// UNRESERVE with operation ID op when it is not "" (its
// OPERATION_FINISHED says they are gone).
func Released(offered []mesos.Resource, op string) []mesos.Offer_Operation {
	destroy, unreserve := reservation.Release(offered)
	var ops []mesos.Offer_Operation
	if len(destroy) > 0 {
		ops = append(ops, calls.OpDestroy(destroy...))
	}
	if len(unreserve) > 0 {
		u := calls.OpUnreserve(unreserve...)
		if op != "" {
			u.ID = &mesos.OperationID{Value: op}
		}
		ops = append(ops, u)
	}
	return ops
}
