package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/dag"
)

// Hook is an object run around a unit's release rather than applied with
// it — a Helm hook: created when the release changes (never on an
// unchanged pass), waited for when it is a Job (until complete) or a Pod
// (until it succeeds), and deleted by its policies. Hooks are not in the
// unit's inventory and are never pruned.
type Hook struct {
	Object *unstructured.Unstructured
	// DeletePolicies are Helm's: HookBeforeCreation (the default when
	// none is given) deletes the hook left by an earlier run before it is
	// created again; HookSucceeded deletes it once every hook of its phase
	// succeeded; HookFailed deletes it when it fails.
	DeletePolicies []string
}

// The delete policies of a Hook, as Helm names them.
const (
	HookBeforeCreation = "before-hook-creation"
	HookSucceeded      = "hook-succeeded"
	HookFailed         = "hook-failed"
)

// HookAction is the Action of the ObjectApplied event of a hook, and
// HookDeletedAction of the event when a policy deletes it.
const (
	HookAction        = "hook"
	HookDeletedAction = "hook deleted"
)

func (h Hook) policy(p string) bool {
	if len(h.DeletePolicies) == 0 {
		return p == HookBeforeCreation
	}
	return slices.Contains(h.DeletePolicies, p)
}

// runHooks runs one phase's hooks in the order given, as Helm does: each
// is deleted first if its policy says so, created and waited for; when
// one fails, it is deleted if its policy says so, as are the hooks before
// it that succeeded and ask for that, and the error names it; when all
// succeed, those that ask to be deleted on success are, last first.
func (a *actor) runHooks(ctx context.Context, unit string, hooks []Hook, timeout time.Duration) error {
	for i, h := range hooks {
		ref := dag.RefOf(h.Object)
		if h.policy(HookBeforeCreation) {
			if err := a.deleteHook(ctx, h.Object, timeout); err != nil {
				return fmt.Errorf("hook %s: deleting the one before: %w", ref, err)
			}
		}
		obj := h.Object.DeepCopy()
		if err := a.client.Create(ctx, obj, client.FieldOwner(a.opts.FieldManager)); err != nil {
			return fmt.Errorf("hook %s: %w", ref, err)
		}
		a.emit(Event{Type: ObjectApplied, Unit: unit, Object: ref, Action: HookAction})
		if err := a.waitHook(ctx, obj, timeout); err != nil {
			err = fmt.Errorf("hook %s: %w", ref, err)
			// The unit's time may be what ran out: clean up with time of
			// its own.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			defer cancel()
			if h.policy(HookFailed) {
				err = errors.Join(err, a.deleteHookEvent(ctx, unit, h.Object, timeout))
			}
			for _, done := range hooks[:i] {
				if done.policy(HookSucceeded) {
					err = errors.Join(err, a.deleteHookEvent(ctx, unit, done.Object, timeout))
				}
			}
			return err
		}
	}
	for i := len(hooks) - 1; i >= 0; i-- {
		if hooks[i].policy(HookSucceeded) {
			if err := a.deleteHookEvent(ctx, unit, hooks[i].Object, timeout); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *actor) deleteHookEvent(ctx context.Context, unit string, obj *unstructured.Unstructured, timeout time.Duration) error {
	if err := a.deleteHook(ctx, obj, timeout); err != nil {
		return fmt.Errorf("hook %s: deleting it: %w", dag.RefOf(obj), err)
	}
	a.emit(Event{Type: ObjectApplied, Unit: unit, Object: dag.RefOf(obj), Action: HookDeletedAction})
	return nil
}

// deleteHook deletes a hook object and waits until it is gone; its
// dependents (a Job's Pods) go in the background, as Helm deletes hooks.
func (a *actor) deleteHook(ctx context.Context, obj *unstructured.Unstructured, timeout time.Duration) error {
	live := obj.DeepCopy()
	err := a.client.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return a.poll(ctx, timeout, func() (bool, error) {
		err := a.client.Get(ctx, client.ObjectKeyFromObject(live), live.DeepCopy())
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// waitHook waits for a Job to complete or a Pod to succeed, as Helm does;
// a hook of any other kind is done once created.
func (a *actor) waitHook(ctx context.Context, obj *unstructured.Unstructured, timeout time.Duration) error {
	gvk := obj.GroupVersionKind()
	switch {
	case gvk.Group == "batch" && gvk.Kind == "Job":
		return a.poll(ctx, timeout, func() (bool, error) {
			live := obj.DeepCopy()
			if err := a.client.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["status"] != "True" {
					continue
				}
				switch m["type"] {
				case "Complete":
					return true, nil
				case "Failed":
					return false, fmt.Errorf("the Job failed: %v", m["message"])
				}
			}
			return false, nil
		})
	case gvk.Group == "" && gvk.Kind == "Pod":
		return a.poll(ctx, timeout, func() (bool, error) {
			live := obj.DeepCopy()
			if err := a.client.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
				return false, err
			}
			switch phase, _, _ := unstructured.NestedString(live.Object, "status", "phase"); phase {
			case "Succeeded":
				return true, nil
			case "Failed":
				return false, errors.New("the Pod failed")
			}
			return false, nil
		})
	}
	return nil
}

// poll calls done every waitInterval until it reports done or an error,
// or timeout passes.
func (a *actor) poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(waitInterval)
	defer t.Stop()
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not done after %s", timeout)
		case <-t.C:
		}
	}
}
