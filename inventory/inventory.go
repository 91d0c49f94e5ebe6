package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gitopskit/gitopskit/dag"
)

// ErrNotFound is returned by Store.Load for a unit with no inventory.
var ErrNotFound = errors.New("inventory not found")

// Entry names one object — its identity, dag.ObjectRef, the one object
// reference every gitopskit package uses — with the API version it was
// applied as. Digest, when set, is a digest of what was last applied, so
// an applier can tell an unchanged object without asking the server.
type Entry struct {
	dag.ObjectRef
	Version string
	Digest  string
}

// ID identifies the object whatever its version, in Flux's inventory
// format: <namespace>_<name>_<group>_<kind>.
func (e Entry) ID() string {
	return e.Namespace + "_" + e.Name + "_" + e.Group + "_" + e.Kind
}

// line is the stored form: ID, version and digest if any, one per line.
func (e Entry) line() string {
	if e.Digest != "" {
		return e.ID() + "_" + e.Version + "_" + e.Digest
	}
	return e.ID() + "_" + e.Version
}

func parseLine(s string) (Entry, error) {
	// Namespaces, groups, kinds and versions never hold '_'; names may (an
	// RBAC role's, or a typo the server then refuses), so the name is
	// whatever lies between the namespace and the last fields. A version
	// starts with "v"; a digest is hex, so it never does.
	parts := strings.Split(s, "_")
	if len(parts) >= 6 && !strings.HasPrefix(parts[len(parts)-1], "v") {
		e, err := parseLine(strings.Join(parts[:len(parts)-1], "_"))
		e.Digest = parts[len(parts)-1]
		return e, err
	}
	n := len(parts)
	if n < 5 || parts[n-2] == "" || parts[n-1] == "" {
		return Entry{}, fmt.Errorf("inventory entry %q does not parse", s)
	}
	name := strings.Join(parts[1:n-3], "_")
	if name == "" {
		return Entry{}, fmt.Errorf("inventory entry %q does not parse", s)
	}
	return Entry{ObjectRef: dag.ObjectRef{Namespace: parts[0], Name: name, Group: parts[n-3], Kind: parts[n-2]}, Version: parts[n-1]}, nil
}

// Inventory is the set of objects one unit owns, sorted by ID, with what
// is known of the unit.
type Inventory struct {
	Unit string
	Meta
	Entries []Entry
}

// Meta is what an inventory keeps of its unit besides the objects.
type Meta struct {
	// Revision is the source revision the entries were last applied from
	// (informational: status displays read it; nothing depends on it).
	Revision string
	// Orphan says the unit's objects are forgotten rather than deleted
	// when it stops rendering them (Flux's spec.prune: false); it is kept
	// so that the unit is treated the same way once it is removed.
	Orphan bool
	// Parent is the unit that defined this one when it was last applied
	// ("" for a root): a unit that is no longer defined counts as removed
	// only once that parent has applied successfully without it.
	Parent string
	// Identity is the user the unit was applied as (impersonated), ""
	// for the applier's own credentials: a removed unit is pruned as it.
	Identity string
	// Release names the package manager's release the unit is (e.g. a
	// Helm release, "helm:<storage namespace>/<name>"), "" for none: a
	// removed unit's release is uninstalled by it.
	Release string
}

// New returns an inventory of the entries, deduplicated by ID (the last
// version given wins) and sorted.
func New(unit string, entries ...Entry) *Inventory {
	byID := make(map[string]Entry, len(entries))
	for _, e := range entries {
		byID[e.ID()] = e
	}
	out := &Inventory{Unit: unit, Entries: make([]Entry, 0, len(byID))}
	for _, e := range byID {
		out.Entries = append(out.Entries, e)
	}
	slices.SortFunc(out.Entries, func(a, b Entry) int { return strings.Compare(a.ID(), b.ID()) })
	return out
}

// Has reports whether the inventory holds the object, whatever its version.
func (inv *Inventory) Has(e Entry) bool {
	_, ok := slices.BinarySearchFunc(inv.Entries, e.ID(), func(x Entry, id string) int { return strings.Compare(x.ID(), id) })
	return ok
}

// Union returns an inventory of the unit holding the entries of both (b's
// versions win). Apply saves old ∪ new before it applies, so a crash never
// forgets an object.
func Union(a, b *Inventory) *Inventory {
	out := New(b.Unit, append(slices.Clone(a.Entries), b.Entries...)...)
	out.Meta = b.Meta
	return out
}

// Diff returns the entries of old that new does not hold (by ID): what a
// unit applied before and no longer renders — the candidates for pruning.
func Diff(old, new *Inventory) []Entry {
	var out []Entry
	for _, e := range old.Entries {
		if !new.Has(e) {
			out = append(out, e)
		}
	}
	return out
}

// Store keeps inventories.
type Store interface {
	// Load returns the unit's inventory, or an error wrapping ErrNotFound.
	Load(ctx context.Context, unit string) (*Inventory, error)
	// Save replaces the unit's inventory.
	Save(ctx context.Context, inv *Inventory) error
}

// Lister is a Store that can enumerate its units, so a caller can find
// which unit claims an object.
type Lister interface {
	List(ctx context.Context) ([]string, error)
}

// Deleter is a Store that can forget a unit.
type Deleter interface {
	Delete(ctx context.Context, unit string) error
}
