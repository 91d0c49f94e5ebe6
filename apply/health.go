package apply

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
		if msg := statusProblem(live[i]); msg != "" {
			h.NotReady = append(h.NotReady, e.String()+": "+msg)
		}
	}
	return h, nil
}
