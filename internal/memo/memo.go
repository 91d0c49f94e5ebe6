// Package memo keeps the results of pure, repeatable work (parsing a file
// by its digest, building a content-addressed directory) so a process does
// it once: a small least-recently-used map, safe for concurrent use. What
// it keeps must not be changed by those who get it.
package memo

import (
	"container/list"
	"sync"
)

// LRU holds at most its size in entries, dropping the least recently used.
type LRU[K comparable, V any] struct {
	mu    sync.Mutex
	size  int
	order *list.List // of entry[K, V], most recent first
	byKey map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key K
	val V
}

// New returns an LRU of at most size entries (at least one).
func New[K comparable, V any](size int) *LRU[K, V] {
	return &LRU[K, V]{size: max(size, 1), order: list.New(), byKey: map[K]*list.Element{}}
}

// Get returns the value kept for key.
func (m *LRU[K, V]) Get(key K) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byKey[key]
	if !ok {
		var zero V
		return zero, false
	}
	m.order.MoveToFront(el)
	return el.Value.(entry[K, V]).val, true
}

// Put keeps val for key.
func (m *LRU[K, V]) Put(key K, val V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.byKey[key]; ok {
		el.Value = entry[K, V]{key, val}
		m.order.MoveToFront(el)
		return
	}
	m.byKey[key] = m.order.PushFront(entry[K, V]{key, val})
	for m.order.Len() > m.size {
		last := m.order.Back()
		m.order.Remove(last)
		delete(m.byKey, last.Value.(entry[K, V]).key)
	}
}

// Delete forgets key.
func (m *LRU[K, V]) Delete(key K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.byKey[key]; ok {
		m.order.Remove(el)
		delete(m.byKey, key)
	}
}

// Len is the number of entries kept.
func (m *LRU[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
