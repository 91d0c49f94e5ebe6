package render

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"
)

// Cache keeps rendered units so an unchanged unit is not rendered again.
// Entries are keyed by everything that decides the output: the artifact
// digest, the unit's spec, the values it resolved (substituteFrom,
// valuesFrom) and the renderer's options. A Cache from NewCache hands out
// copies, so callers may change them; one from NewSharedCache hands out
// read-only results. A Cache may be shared by renderers and used
// concurrently; it holds at most its size in units, dropping the least
// recently used.
type Cache struct {
	mu     sync.Mutex
	size   int
	shared bool
	order  *list.List // of *cacheEntry, most recent first
	byKey  map[string]*list.Element
}

type cacheEntry struct {
	key string
	res *Result
}

// NewCache returns a cache of at most size units (1024 when size <= 0)
// that copies what it keeps and what it hands out, so callers may change
// the results they get.
func NewCache(size int) *Cache {
	if size <= 0 {
		size = 1024
	}
	return &Cache{size: size, order: list.New(), byKey: map[string]*list.Element{}}
}

// NewSharedCache returns a cache of at most size units (1024 when size <=
// 0) whose results are read-only: every Result rendered with it or taken
// from it shares its objects, hooks and release values with the cache and
// with every other caller, as objects from client-go's listers do. A
// caller that changes an object copies it first
// (unstructured.Unstructured.DeepCopy); the Result itself and its slices
// are the caller's own, so appending a warning or replacing an entry of
// Objects is safe. Renderers using a shared cache also share what they
// decode once per process, such as a chart's CRDs, between results.
//
// It spares the copies that dominate an unchanged load. The Reconciler
// uses one by default: apply, dag and gitopstest only read rendered
// objects.
func NewSharedCache(size int) *Cache {
	c := NewCache(size)
	c.shared = true
	return c
}

// readOnly reports whether results rendered with c may share objects.
func (c *Cache) readOnly() bool { return c != nil && c.shared }

// keep is what the cache hands out or stores of res.
func (c *Cache) keep(res *Result) *Result {
	if c.shared {
		return res.view()
	}
	return res.deepCopy()
}

// cacheKey hashes the parts of a key; each part is JSON-encoded so maps
// encode in sorted order.
func cacheKey(parts ...any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, p := range parts {
		if err := enc.Encode(p); err != nil {
			return "" // an unencodable key is never cached
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Cache) get(key string) (*Result, bool) {
	if c == nil || key == "" {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return c.keep(el.Value.(*cacheEntry).res), true
}

func (c *Cache) put(key string, res *Result) {
	if c == nil || key == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		el.Value.(*cacheEntry).res = c.keep(res)
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, res: c.keep(res)})
	for c.order.Len() > c.size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cacheEntry).key)
	}
}

// Len is the number of cached units.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// view is a Result of its own that shares r's objects, hooks and release
// values: its slices and its ReleaseInfo are copies, their contents not.
func (r *Result) view() *Result {
	out := &Result{Unit: r.Unit, Warnings: slices.Clone(r.Warnings), Objects: slices.Clone(r.Objects),
		Hooks: slices.Clone(r.Hooks), Rejected: slices.Clone(r.Rejected)}
	if r.Release != nil {
		rel := *r.Release
		out.Release = &rel
	}
	return out
}

func (r *Result) deepCopy() *Result {
	// The release record's parts are read only; the values are copied.
	out := &Result{Unit: r.Unit, Warnings: append([]string(nil), r.Warnings...)}
	if r.Release != nil {
		rel := *r.Release
		rel.Values, _ = copyTree(rel.Values).(map[string]any)
		out.Release = &rel
	}
	for _, rj := range r.Rejected {
		out.Rejected = append(out.Rejected, RejectedUnit{Object: rj.Object.DeepCopy(), File: rj.File, Err: rj.Err})
	}
	for _, o := range r.Objects {
		out.Objects = append(out.Objects, Object{Unstructured: o.DeepCopy(), Provenance: o.Provenance})
	}
	for _, h := range r.Hooks {
		out.Hooks = append(out.Hooks, Hook{Object: Object{Unstructured: h.DeepCopy(), Provenance: h.Provenance}, Events: append([]string(nil), h.Events...), Weight: h.Weight,
			DeletePolicies: append([]string(nil), h.DeletePolicies...)})
	}
	return out
}

// copyTree copies the maps and slices of a tree of values; everything else
// in it (strings, numbers, bools) is immutable and shared.
func copyTree(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = copyTree(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyTree(e)
		}
		return out
	default:
		return v
	}
}
