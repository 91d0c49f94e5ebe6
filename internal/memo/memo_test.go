package memo

import (
	"sync"
	"testing"
)

// TestLRU: the least recently used entry goes first; Get refreshes; Put
// replaces; Delete forgets.
func TestLRU(t *testing.T) {
	m := New[string, int](2)
	m.Put("a", 1)
	m.Put("b", 2)
	if v, ok := m.Get("a"); !ok || v != 1 {
		t.Fatalf("a = %d, %v", v, ok)
	}
	m.Put("c", 3) // b is the least recently used
	if _, ok := m.Get("b"); ok {
		t.Error("b kept past the size")
	}
	m.Put("a", 10)
	if v, _ := m.Get("a"); v != 10 || m.Len() != 2 {
		t.Errorf("a = %d, len %d", v, m.Len())
	}
	m.Delete("a")
	if _, ok := m.Get("a"); ok || m.Len() != 1 {
		t.Errorf("a kept after Delete, len %d", m.Len())
	}
}

// TestLRUConcurrent: concurrent use is safe (run with -race).
func TestLRUConcurrent(t *testing.T) {
	m := New[int, int](8)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				m.Put(i%16, g)
				m.Get((i + g) % 16)
			}
		})
	}
	wg.Wait()
	if m.Len() != 8 {
		t.Errorf("len %d, want 8", m.Len())
	}
}

// TestLRUWeighted: entries are dropped until the total weight fits; one
// heavier than the whole is not kept; Clear empties.
func TestLRUWeighted(t *testing.T) {
	m := New[string, string](10)
	m.PutWeighted("a", "a", 4)
	m.PutWeighted("b", "b", 4)
	m.PutWeighted("c", "c", 4) // a goes
	if _, ok := m.Get("a"); ok || m.Len() != 2 {
		t.Errorf("a kept, len %d", m.Len())
	}
	m.PutWeighted("huge", "x", 11)
	if _, ok := m.Get("huge"); ok || m.Len() != 2 {
		t.Errorf("an entry heavier than the LRU kept, len %d", m.Len())
	}
	m.PutWeighted("b", "b2", 1) // replacing frees its old weight
	m.PutWeighted("d", "d", 5)
	if v, ok := m.Get("b"); !ok || v != "b2" || m.Len() != 3 {
		t.Errorf("b = %q %v, len %d", v, ok, m.Len())
	}
	m.Clear()
	if m.Len() != 0 {
		t.Errorf("len %d after Clear", m.Len())
	}
}

// TestClearAll: every LRU of the process is emptied.
func TestClearAll(t *testing.T) {
	a, b := New[int, int](4), New[string, int](4)
	a.Put(1, 1)
	b.Put("x", 1)
	ClearAll()
	if a.Len()+b.Len() != 0 {
		t.Errorf("lengths %d, %d after ClearAll", a.Len(), b.Len())
	}
}
