package apply

import (
	"context"
	"sync"

	"github.com/gitopskit/gitopskit/inventory"
)

// owners answers, for an object a unit applies for the first time though
// the cluster has it, which unit of the store held it before: the object
// moved. It reads the store's inventories once, and only when that first
// happens; units that let an object go during the run say so (release),
// since their saved inventory no longer shows it.
type owners struct {
	store    inventory.Store
	mu       sync.Mutex
	loaded   bool
	held     map[string][]string // object ID → the units whose stored inventories hold it
	released map[string]string   // object ID → the unit that let it go in this run
}

func newOwners(store inventory.Store) *owners {
	return &owners{store: store, held: map[string][]string{}, released: map[string]string{}}
}

// release records that unit dropped the object id because another unit
// renders it now.
func (o *owners) release(id, unit string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.released[id] = unit
}

// previous is the unit other than unit that held the object id, or "" when
// none did (or the store cannot list its units).
func (o *owners) previous(ctx context.Context, id, unit string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if from := o.released[id]; from != "" && from != unit {
		return from
	}
	if !o.loaded {
		o.loaded = true
		if l, ok := o.store.(inventory.Lister); ok {
			if units, err := l.List(ctx); err == nil {
				for _, u := range units {
					inv, err := o.store.Load(ctx, u)
					if err != nil {
						continue
					}
					for _, e := range inv.Entries {
						o.held[e.ID()] = append(o.held[e.ID()], u)
					}
				}
			}
		}
	}
	// The unit's own inventory holds it too by now (saved before the
	// apply, so a crash forgets nothing).
	for _, from := range o.held[id] {
		if from != unit {
			return from
		}
	}
	return ""
}

// movedMessage is an ObjectApplied event's message for an object moved
// from another unit.
func movedMessage(from string) string {
	if from == "" {
		return ""
	}
	return "from " + from
}
