package inventory

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// MemoryStore keeps inventories in memory. The zero value is ready to use
// and safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	invs  map[string]*Inventory
	owner string
	key   []byte
}

// Load returns a copy of the unit's inventory.
func (m *MemoryStore) Load(_ context.Context, unit string) (*Inventory, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	inv, ok := m.invs[unit]
	if !ok {
		return nil, fmt.Errorf("%s: %w", unit, ErrNotFound)
	}
	return &Inventory{Unit: inv.Unit, Meta: inv.Meta, Entries: slices.Clone(inv.Entries)}, nil
}

// Save stores a copy of inv.
func (m *MemoryStore) Save(_ context.Context, inv *Inventory) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.invs == nil {
		m.invs = map[string]*Inventory{}
	}
	c := New(inv.Unit, inv.Entries...)
	c.Meta = inv.Meta
	m.invs[inv.Unit] = c
	return nil
}

// List returns the units, sorted.
func (m *MemoryStore) List(_ context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.invs))
	for u := range m.invs {
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}

// Delete forgets the unit.
func (m *MemoryStore) Delete(_ context.Context, unit string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.invs, unit)
	return nil
}
