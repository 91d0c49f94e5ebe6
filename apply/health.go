package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/dag"
)

// Health is what the cluster says, now, about the objects a unit last
// applied.
type Health struct {
	Unit string
	// Revision is the revision the unit was last applied from.
	Revision string
	// Objects is how many objects its inventory holds.
	Objects int
	// NotReady lists the objects that are missing or not Current by
	// kstatus, each as "<object>: <status message>", in inventory order.
	NotReady []string
	// Each is every object's health, in inventory order.
	Each []ObjectHealth
}

// ObjectHealth is what kstatus says of one object: Status is Current,
// InProgress, Failed, Terminating, Unknown or NotFound; Message why.
type ObjectHealth struct {
	Object  dag.ObjectRef
	Status  string
	Message string
}

// Ready reports whether every object is there and Current.
func (h *Health) Ready() bool { return len(h.NotReady) == 0 }

// String sums the health up in a line.
func (h *Health) String() string {
	if h.Ready() {
		return fmt.Sprintf("%d objects ready", h.Objects)
	}
	return fmt.Sprintf("%d of %d objects not ready: %s", len(h.NotReady), h.Objects, strings.Join(h.NotReady, "; "))
}

// Health reads a unit's inventory and checks each object it holds against
// the cluster with kstatus (reading them with a LIST per kind, or a GET each
// for a kind with only a few), without changing anything: how a program that
// did not apply the unit itself (a status command, a dashboard) tells
// whether it is in place. A unit with no inventory gives an error wrapping
// inventory.ErrNotFound.
func (a *Applier) Health(ctx context.Context, unit string) (*Health, error) {
	inv, err := a.opts.Store.Load(ctx, unit)
	if err != nil {
		return nil, err
	}
	h := &Health{Unit: unit, Revision: inv.Revision, Objects: len(inv.Entries)}
	objs := make([]*unstructured.Unstructured, len(inv.Entries))
	for i, e := range inv.Entries {
		objs[i] = objectOf(e)
	}
	live, err := a.self.readLive(ctx, objs, func(int) bool { return true })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", unit, err)
	}
	for i, e := range inv.Entries {
		oh := ObjectHealth{Object: e.ObjectRef, Status: "NotFound", Message: "not found"}
		if live[i] != nil {
			res, err := status.Compute(live[i])
			if err != nil {
				oh.Status, oh.Message = string(status.UnknownStatus), err.Error()
			} else {
				oh.Status, oh.Message = string(res.Status), res.Message
			}
		}
		h.Each = append(h.Each, oh)
		if oh.Status != string(status.CurrentStatus) {
			h.NotReady = append(h.NotReady, e.String()+": "+problemOf(oh))
		}
	}
	return h, nil
}

// problemOf words an object's health as statusProblem does.
func problemOf(oh ObjectHealth) string {
	if oh.Status == "NotFound" || oh.Status == string(status.UnknownStatus) {
		return oh.Message
	}
	return oh.Status + ": " + oh.Message
}
