package gitopskit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/render"
)

// Readiness is a unit's Ready condition, as Flux reports it.
type Readiness string

// The values of Readiness.
const (
	ReadyTrue    Readiness = "True"
	ReadyFalse   Readiness = "False"
	ReadyUnknown Readiness = "Unknown"
)

// UnitStatus is one unit's state, the row `flux get kustomizations` or
// `flux get helmreleases` prints for it.
type UnitStatus struct {
	// ID is Kind/namespace/name.
	ID      string
	Ready   Readiness
	Message string
	// Revision is the source revision last applied successfully.
	Revision  string
	Suspended bool
	// LastApplied is when the unit last became Ready.
	LastApplied time.Time
	// Tests is how the tests of a HelmRelease's last install or upgrade
	// went (spec.test), e.g. "3 passed"; "" when none ran.
	Tests string
	// Remediation is how a HelmRelease's last failure was set right
	// ("rolled back to revision 3", "uninstalled"), "" when it was not;
	// Failures how many attempts of the release as it is now failed in a
	// row (install/upgrade.remediation.retries bounds them).
	Remediation string
	Failures    int
	// Removed is set only in what Watch sends, for a unit that is gone:
	// it left the repository (and what it applied was pruned) or was torn
	// down. Status no longer lists it.
	Removed bool
}

// Status is every unit's status, sorted by ID.
type Status []UnitStatus

// Unit returns one unit's status.
func (s Status) Unit(id string) (UnitStatus, bool) {
	for _, u := range s {
		if u.ID == id {
			return u, true
		}
	}
	return UnitStatus{}, false
}

// String prints the status as a table: NAME, READY, MESSAGE, REVISION,
// SUSPENDED.
func (s Status) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREADY\tMESSAGE\tREVISION\tSUSPENDED")
	for _, u := range s {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\n", u.ID, u.Ready, oneLine(u.Message), u.Revision, u.Suspended)
	}
	tw.Flush()
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Status returns every unit's status as of now: the units of the last
// revision rendered, and any still being removed.
func (r *Reconciler) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(Status, 0, len(r.status))
	for _, s := range r.status {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b UnitStatus) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Watch sends every change of a unit's status, starting with the status of
// every unit known now, until ctx is done; then the channel is closed.
// Changes queue up for a slow reader and are never dropped, and a reader
// never holds up a reconcile.
func (r *Reconciler) Watch(ctx context.Context) <-chan UnitStatus {
	w := &watcher{signal: make(chan struct{}, 1)}
	w.queue = r.Status()
	r.mu.Lock()
	r.watchers = append(r.watchers, w)
	r.mu.Unlock()
	ch := make(chan UnitStatus)
	go func() {
		defer close(ch)
		defer func() {
			r.mu.Lock()
			r.watchers = slices.DeleteFunc(r.watchers, func(x *watcher) bool { return x == w })
			r.mu.Unlock()
		}()
		for {
			w.mu.Lock()
			if len(w.queue) > 0 {
				next := w.queue[0]
				w.queue = w.queue[1:]
				w.mu.Unlock()
				select {
				case ch <- next:
				case <-ctx.Done():
					return
				}
				continue
			}
			w.mu.Unlock()
			select {
			case <-w.signal:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

type watcher struct {
	mu     sync.Mutex
	queue  []UnitStatus
	signal chan struct{}
}

// setStatus changes one unit's status and tells the watchers; r.mu held.
func (r *Reconciler) setStatus(s UnitStatus) {
	if old, ok := r.status[s.ID]; ok && old == s {
		return
	}
	r.status[s.ID] = s
	r.broadcast(s)
}

// broadcast queues s for every watcher; r.mu held.
func (r *Reconciler) broadcast(s UnitStatus) {
	for _, w := range r.watchers {
		w.mu.Lock()
		w.queue = append(w.queue, s)
		w.mu.Unlock()
		select {
		case w.signal <- struct{}{}:
		default:
		}
	}
}

// removeStatus forgets a unit and tells the watchers; r.mu held.
func (r *Reconciler) removeStatus(id string) {
	s, ok := r.status[id]
	if !ok {
		return
	}
	delete(r.status, id)
	s.Removed = true
	r.broadcast(s)
}

// update changes a unit's status with fn; r.mu held.
func (r *Reconciler) update(id string, fn func(*UnitStatus)) {
	s, ok := r.status[id]
	if !ok {
		s = UnitStatus{ID: id, Ready: ReadyUnknown}
	}
	fn(&s)
	r.setStatus(s)
}

func (r *Reconciler) markAll(fn func(*UnitStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range r.status {
		r.update(id, fn)
	}
}

// onEvent keeps the status live while units apply.
func (r *Reconciler) onEvent(e apply.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Type {
	case apply.UnitStarted:
		r.update(e.Unit, func(s *UnitStatus) { s.Ready, s.Message = ReadyUnknown, "Reconciliation in progress" })
	case apply.UnitFailed:
		r.update(e.Unit, func(s *UnitStatus) { s.Ready, s.Message = ReadyFalse, e.Err.Error() })
	}
}

// record sets the status of every unit from a pass's outcome.
func (r *Reconciler) record(g *render.Graph, units []apply.Unit, out *apply.Result, sourceErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	given := map[string]apply.Unit{}
	for _, u := range units {
		given[u.ID] = u
	}
	now := time.Now()
	for _, res := range out.Units {
		u := given[res.ID]
		if u.Mode == apply.Remove && res.State == dag.Succeeded {
			r.removeStatus(res.ID)
			continue
		}
		ru := g.Unit(res.ID)
		r.update(res.ID, func(s *UnitStatus) {
			s.Suspended = ru != nil && (ru.Suspended || r.suspended[res.ID])
			switch {
			case res.Skipped:
				if s.Message == "" {
					s.Message = "not reconciled yet"
				}
			case res.Err != nil:
				s.Ready, s.Message = ReadyFalse, res.Err.Error()
				if res.Tests != "" {
					s.Tests = res.Tests
				}
				s.Remediation, s.Failures = res.Remediation, res.Failures
			case res.State == dag.Blocked && u.Mode == apply.Remove:
				s.Ready, s.Message = ReadyFalse, fmt.Sprintf("no longer defined, but kept: '%s', which defined it, did not apply", res.BlockedBy)
			case res.State == dag.Blocked:
				s.Ready, s.Message = ReadyFalse, fmt.Sprintf("dependency '%s' is not ready", res.BlockedBy)
			case res.State == dag.Succeeded:
				s.Ready, s.Revision, s.LastApplied = ReadyTrue, u.Revision, now
				s.Message = "Applied revision: " + u.Revision
				s.Remediation, s.Failures = "", 0
				if res.Tests != "" {
					s.Tests = res.Tests
				}
				if s.Tests != "" {
					s.Message += "; tests " + s.Tests
				}
				if n := len(res.Drifted); n > 0 {
					s.Message += fmt.Sprintf("; %d objects drifted and were left so (driftDetection: warn)", n)
				}
				if sourceErr != nil {
					s.Message += " (" + sourceErr.Error() + ")"
				}
			default:
				s.Ready, s.Message = ReadyUnknown, res.State.String()
			}
		})
	}
	// Units that are no longer in the graph nor being removed.
	for id := range r.status {
		if _, ok := given[id]; !ok {
			r.removeStatus(id)
		}
	}
}

// Suspend stops reconciling a unit until Resume, as `flux suspend` does:
// its objects stay as they are (not applied, not pruned) and units that
// depend on it go on. Units with spec.suspend: true in the repository are
// suspended anyway. The ID must name a unit of the last revision rendered,
// if one was.
func (r *Reconciler) Suspend(id string) error {
	return r.setSuspended(id, true)
}

// Resume undoes Suspend and asks Run to reconcile the unit soon.
func (r *Reconciler) Resume(id string) error {
	if err := r.setSuspended(id, false); err != nil {
		return err
	}
	r.Trigger(id, UnitOnly)
	return nil
}

func (r *Reconciler) setSuspended(id string, on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ru *render.Unit
	if r.graph != nil {
		if ru = r.graph.Unit(id); ru == nil {
			return fmt.Errorf("%s: no such unit", id)
		}
	}
	if on {
		r.suspended[id] = true
	} else {
		delete(r.suspended, id)
	}
	r.update(id, func(s *UnitStatus) { s.Suspended = on || (ru != nil && ru.Suspended) })
	return nil
}
