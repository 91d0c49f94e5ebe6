package gitopskit

import (
	"context"
	"math/rand/v2"
	"time"
)

// Run reconciles at once, then every Options.Interval (plus jitter), and
// whenever Trigger asks, until ctx is done. Passes never overlap. Outcomes
// go to Status, Watch and the Logger; Run returns nil when ctx is done.
func (r *Reconciler) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			r.takePending() // a full pass covers whatever was asked for
			r.logPass(r.Reconcile(ctx))
			timer.Reset(r.nextInterval())
		case <-r.kick:
			pending := r.takePending()
			if _, all := pending[""]; all {
				r.logPass(r.Reconcile(ctx))
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
				timer.Reset(r.nextInterval())
				continue
			}
			for id, depth := range pending {
				r.logPass(r.ReconcileUnit(ctx, id, depth))
			}
		}
	}
}

// Trigger asks Run to reconcile a unit (or everything, for "") as soon as
// it can, like `flux reconcile kustomization <name>`. It does not wait;
// requests made while a pass runs are served right after it, merged.
func (r *Reconciler) Trigger(id string, depth Depth) {
	r.mu.Lock()
	if d, ok := r.pending[id]; !ok || depth > d {
		r.pending[id] = depth
	}
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Reconciler) takePending() map[string]Depth {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending
	r.pending = map[string]Depth{}
	return p
}

func (r *Reconciler) nextInterval() time.Duration {
	return r.opts.Interval + rand.N(r.opts.Interval/10+1)
}

func (r *Reconciler) logPass(res *Result, err error) {
	switch {
	case err != nil:
		r.log.Error("reconcile", "err", err)
	case res != nil && res.Err() != nil:
		r.log.Warn("reconciled with failures", "revision", res.Revision, "err", res.Err())
	case res != nil:
		r.log.Info("reconciled", "revision", res.Revision)
	}
}
