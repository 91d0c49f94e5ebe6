package dag

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
)

// State is where a node stands in a schedule.
type State int

// The states of a scheduled node.
const (
	// Pending nodes wait for their dependencies.
	Pending State = iota
	// Running nodes were handed out and not reported done yet.
	Running
	// Succeeded nodes were reported done without error.
	Succeeded
	// Failed nodes were reported done with an error.
	Failed
	// Blocked nodes will not run because something they depend on, directly
	// or not, failed or was blocked.
	Blocked
	// Canceled nodes were never started because the schedule was canceled.
	Canceled
)

func (s State) String() string {
	switch s {
	case Pending:
		return "Pending"
	case Running:
		return "Running"
	case Succeeded:
		return "Succeeded"
	case Failed:
		return "Failed"
	case Blocked:
		return "Blocked"
	case Canceled:
		return "Canceled"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// NodeResult is the outcome for one node of a schedule.
type NodeResult struct {
	ID    string
	State State
	// Err is the node's own error when it Failed.
	Err error
	// BlockedBy is the failed node that caused a Blocked node not to run.
	BlockedBy string
}

// Result lists the outcome of every node, sorted by ID.
type Result []NodeResult

// Get returns the outcome of one node.
func (r Result) Get(id string) (NodeResult, bool) {
	for _, n := range r {
		if n.ID == id {
			return n, true
		}
	}
	return NodeResult{}, false
}

// Err joins the errors of failed nodes, each prefixed with its ID, and
// names blocked and canceled nodes; nil when every node succeeded.
func (r Result) Err() error {
	var errs []error
	for _, n := range r {
		switch n.State {
		case Failed:
			errs = append(errs, fmt.Errorf("%s: %w", n.ID, n.Err))
		case Blocked:
			errs = append(errs, fmt.Errorf("%s: blocked by failed %s", n.ID, n.BlockedBy))
		case Canceled, Pending, Running:
			errs = append(errs, fmt.Errorf("%s: %s", n.ID, n.State))
		}
	}
	return errors.Join(errs...)
}

// Scheduler hands out each node as soon as every node it depends on has
// succeeded — not level by level — so a slow node delays only what depends
// on it. It is safe for concurrent use.
type Scheduler struct {
	g         *Graph
	mu        sync.Mutex
	pending   []int // dependencies not yet succeeded
	state     []State
	errs      []error
	blockedBy []int
	ready     *idHeap
	active    int // nodes Pending or Running
}

// Scheduler returns a scheduler over the graph, or a *CycleError.
func (g *Graph) Scheduler() (*Scheduler, error) {
	if c := g.FindCycle(); c != nil {
		return nil, c
	}
	s := &Scheduler{
		g:         g,
		pending:   make([]int, len(g.ids)),
		state:     make([]State, len(g.ids)),
		errs:      make([]error, len(g.ids)),
		blockedBy: make([]int, len(g.ids)),
		ready:     &idHeap{ids: g.ids},
		active:    len(g.ids),
	}
	for n := range g.ids {
		s.pending[n] = len(g.deps[n])
		s.blockedBy[n] = -1
		if s.pending[n] == 0 {
			s.ready.ns = append(s.ready.ns, n)
		}
	}
	heap.Init(s.ready)
	return s, nil
}

// Next hands out up to max ready nodes (all of them when max <= 0), in ID
// order, and marks them Running. It returns none when nothing is ready now;
// Finished tells whether anything ever will be.
func (s *Scheduler) Next(max int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for s.ready.Len() > 0 && (max <= 0 || len(out) < max) {
		n := heap.Pop(s.ready).(int)
		s.state[n] = Running
		out = append(out, s.g.ids[n])
	}
	return out
}

// Done reports a Running node finished. With a nil err its dependents whose
// other dependencies are done become ready; with an error the node Failed
// and every node that depends on it, directly or not, is Blocked. Done
// returns the nodes it blocked, sorted. Reporting a node that is not
// Running panics: it is a bug in the caller.
func (s *Scheduler) Done(id string, err error) (blocked []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.g.index[id]
	if !ok || s.state[n] != Running {
		panic(fmt.Sprintf("dag: Done(%q) for a node that is not running", id))
	}
	s.active--
	if err == nil {
		s.state[n] = Succeeded
		for _, u := range s.g.users[n] {
			s.pending[u]--
			if s.pending[u] == 0 && s.state[u] == Pending {
				heap.Push(s.ready, u)
			}
		}
		return nil
	}
	s.state[n] = Failed
	s.errs[n] = err
	var hit []int
	queue := []int{n}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		for _, u := range s.g.users[m] {
			if s.state[u] != Pending {
				continue
			}
			s.state[u] = Blocked
			s.blockedBy[u] = n
			s.active--
			hit = append(hit, u)
			queue = append(queue, u)
		}
	}
	if len(hit) == 0 {
		return nil
	}
	return s.g.names(hit)
}

// Cancel marks every Pending node Canceled; Running nodes stay Running until
// reported Done.
func (s *Scheduler) Cancel() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, st := range s.state {
		if st == Pending {
			s.state[n] = Canceled
			s.active--
		}
	}
	s.ready.ns = s.ready.ns[:0]
}

// Finished reports whether no node is Pending or Running.
func (s *Scheduler) Finished() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active == 0
}

// Result returns the outcome of every node so far.
func (s *Scheduler) Result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(Result, 0, len(s.g.ids))
	for _, id := range s.g.Nodes() {
		n := s.g.index[id]
		r := NodeResult{ID: id, State: s.state[n], Err: s.errs[n]}
		if b := s.blockedBy[n]; b >= 0 {
			r.BlockedBy = s.g.ids[b]
		}
		out = append(out, r)
	}
	return out
}

// Walk calls visit for every node, each as soon as its dependencies have
// succeeded, with at most limit calls running at once (no limit when
// limit <= 0). A node whose visit returns an error blocks its dependents;
// independent nodes go on. When ctx is canceled no further node starts,
// running ones are waited for, and the rest are Canceled. Walk returns a
// *CycleError, and nothing else, as its error; per-node failures are in the
// Result.
func (g *Graph) Walk(ctx context.Context, limit int, visit func(ctx context.Context, id string) error) (Result, error) {
	s, err := g.Scheduler()
	if err != nil {
		return nil, err
	}
	type outcome struct {
		id  string
		err error
	}
	done := make(chan outcome)
	running := 0
	for {
		if ctx.Err() == nil {
			free := 0
			if limit > 0 {
				free = limit - running
			}
			if limit <= 0 || free > 0 {
				for _, id := range s.Next(free) {
					running++
					go func() { done <- outcome{id, visit(ctx, id)} }()
				}
			}
		}
		if running == 0 {
			break
		}
		o := <-done
		running--
		s.Done(o.id, o.err)
	}
	s.Cancel()
	return s.Result(), nil
}
