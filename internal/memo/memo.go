// Package memo keeps the results of pure, repeatable work (parsing a file
// by its digest, building a content-addressed directory) so a process does
// it once: a small least-recently-used map, safe for concurrent use. What
// it keeps must not be changed by those who get it.
package memo

import (
	"container/list"
	"sync"
)

// LRU holds entries up to a total weight (each entry weighs one unless Put
// with a weight), dropping the least recently used.
type LRU[K comparable, V any] struct {
	mu     sync.Mutex
	size   int // the most total weight kept
	weight int
	order  *list.List // of entry[K, V], most recent first
	byKey  map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key    K
	val    V
	weight int
}

// New returns an LRU of at most size entries (at least one), or of at
// most that total weight when entries are put with PutWeighted.
func New[K comparable, V any](size int) *LRU[K, V] {
	m := &LRU[K, V]{size: max(size, 1), order: list.New(), byKey: map[K]*list.Element{}}
	all.Lock()
	all.lrus = append(all.lrus, m.Clear)
	all.Unlock()
	return m
}

var all struct {
	sync.Mutex
	lrus []func()
}

// ClearAll empties every LRU of the process, so it is as a new process
// would be: what benchmarks of a cold start call between iterations.
func ClearAll() {
	all.Lock()
	defer all.Unlock()
	for _, clear := range all.lrus {
		clear()
	}
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

// Put keeps val for key, weighing one.
func (m *LRU[K, V]) Put(key K, val V) { m.PutWeighted(key, val, 1) }

// PutWeighted keeps val for key with a weight (e.g. its size in bytes),
// dropping the least recently used entries until the total fits. An entry
// heavier than the whole LRU is not kept.
func (m *LRU[K, V]) PutWeighted(key K, val V, weight int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(key)
	if weight > m.size {
		return
	}
	m.byKey[key] = m.order.PushFront(entry[K, V]{key, val, weight})
	m.weight += weight
	for m.weight > m.size {
		m.remove(m.order.Back().Value.(entry[K, V]).key)
	}
}

func (m *LRU[K, V]) remove(key K) {
	if el, ok := m.byKey[key]; ok {
		m.weight -= el.Value.(entry[K, V]).weight
		m.order.Remove(el)
		delete(m.byKey, key)
	}
}

// Delete forgets key.
func (m *LRU[K, V]) Delete(key K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(key)
}

// Clear forgets everything.
func (m *LRU[K, V]) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.order.Init()
	clear(m.byKey)
	m.weight = 0
}

// Len is the number of entries kept.
func (m *LRU[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
