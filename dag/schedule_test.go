package dag

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func states(r Result) map[string]string {
	out := map[string]string{}
	for _, n := range r {
		s := n.State.String()
		if n.BlockedBy != "" {
			s += " by " + n.BlockedBy
		}
		out[n.ID] = s
	}
	return out
}

// TestWalkSlowNodeDoesNotDelayUnrelatedBranch: "slow" holds its slot until
// the whole unrelated chain fast1→fast2→fast3 has run. A level-by-level
// scheduler would wait for slow before starting fast2 and deadlock; the
// guard below turns that into a failure instead of a hang.
func TestWalkSlowNodeDoesNotDelayUnrelatedBranch(t *testing.T) {
	g := graphOf(t, "slow<slowchild", "fast1<fast2", "fast2<fast3")
	fast3Done := make(chan struct{})
	var mu sync.Mutex
	var seq []string
	res, err := g.Walk(context.Background(), 2, func(ctx context.Context, id string) error {
		if id == "slow" {
			select {
			case <-fast3Done:
			case <-time.After(30 * time.Second):
				return errors.New("the unrelated branch did not finish while slow ran")
			}
		}
		mu.Lock()
		seq = append(seq, id)
		mu.Unlock()
		if id == "fast3" {
			close(fast3Done)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"fast1", "fast2", "fast3", "slow", "slowchild"}
	if diff := cmp.Diff(want, seq); diff != "" {
		t.Errorf("completion order (-want +got):\n%s", diff)
	}
}

func TestWalkFailureBlocksDependentsOnly(t *testing.T) {
	g := graphOf(t, "infra<deps", "deps<apps", "infra<monitoring", "other<other2", "deps<reports")
	res, err := g.Walk(context.Background(), 0, func(ctx context.Context, id string) error {
		if id == "deps" {
			return errors.New("CRD missing")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"infra":      "Succeeded",
		"deps":       "Failed",
		"apps":       "Blocked by deps",
		"reports":    "Blocked by deps",
		"monitoring": "Succeeded",
		"other":      "Succeeded",
		"other2":     "Succeeded",
	}
	if diff := cmp.Diff(want, states(res)); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	msg := res.Err().Error()
	for _, s := range []string{"deps: CRD missing", "apps: blocked by failed deps"} {
		if !strings.Contains(msg, s) {
			t.Errorf("Err() = %q, want it to contain %q", msg, s)
		}
	}
}

func TestWalkLimit(t *testing.T) {
	var spec []string
	for _, c := range "abcdefghij" {
		spec = append(spec, string(c))
	}
	g := graphOf(t, spec...)
	var running, peak atomic.Int32
	res, err := g.Walk(context.Background(), 3, func(ctx context.Context, id string) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		return nil
	})
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if p := peak.Load(); p > 3 {
		t.Errorf("%d visits ran at once, limit 3", p)
	}
}

func TestWalkCancel(t *testing.T) {
	g := graphOf(t, "a<b", "b<c")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := g.Walk(ctx, 0, func(ctx context.Context, id string) error {
		if id == "a" {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "Succeeded", "b": "Canceled", "c": "Canceled"}
	if diff := cmp.Diff(want, states(res)); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

func TestSchedulerByHand(t *testing.T) {
	g := graphOf(t, "a<c", "b<c", "c<d", "e")
	s, err := g.Scheduler()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, s.Next(2)); diff != "" {
		t.Errorf("first Next(2) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"e"}, s.Next(0)); diff != "" {
		t.Errorf("Next(0) (-want +got):\n%s", diff)
	}
	s.Done("a", nil)
	if got := s.Next(0); len(got) != 0 {
		t.Errorf("c handed out before b is done: %v", got)
	}
	s.Done("b", nil)
	if diff := cmp.Diff([]string{"c"}, s.Next(0)); diff != "" {
		t.Errorf("Next after a and b (-want +got):\n%s", diff)
	}
	if blocked := s.Done("c", errors.New("boom")); !cmp.Equal(blocked, []string{"d"}) {
		t.Errorf("Done(c, err) blocked %v, want [d]", blocked)
	}
	if s.Finished() {
		t.Error("Finished with e still running")
	}
	s.Done("e", nil)
	if !s.Finished() {
		t.Error("not Finished after every node is done")
	}
	defer func() {
		if recover() == nil {
			t.Error("Done of a node that is not running did not panic")
		}
	}()
	s.Done("e", nil)
}
