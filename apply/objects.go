package apply

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"reflect"
	"slices"
	"sync"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/jsondiff"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/dag"
)

// digestOf is a digest of what gitopskit applies for an object.
func digestOf(o *unstructured.Unstructured) string {
	b, _ := json.Marshal(o.Object)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// storedDigest is the digest an inventory keeps for an object: for a
// Secret, keyed with the store's key (HMAC-SHA256), so the inventory —
// readable by whoever may view its namespace — gives no way to test
// guesses of the Secret's values; for everything else, digestOf. With no
// key a Secret gets no digest, and is applied on every pass.
func storedDigest(key []byte, o *unstructured.Unstructured) string {
	if gvk := o.GroupVersionKind(); gvk.Group != "" || gvk.Kind != "Secret" {
		return digestOf(o)
	}
	if len(key) == 0 {
		return ""
	}
	b, _ := json.Marshal(o.Object)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// digests are, by object ID, the digest of what the inventory says was last
// applied and of what is applied now.
type digests struct{ last, now map[string]string }

// known reports whether the inventory holds o with a digest.
func (d digests) known(o *unstructured.Unstructured) bool { return d.last[entryOf(o).ID()] != "" }

// unchanged reports whether o needs no request: what was last applied is
// what o is now, and live still holds it. A status in the manifest is not
// compared: the server keeps it apart from what is applied (CRDs shipped
// with "status: {acceptedNames: {kind: ”}}", as Gateway API's are, would
// otherwise never compare equal).
func (d digests) unchanged(o, live *unstructured.Unstructured) bool {
	id := entryOf(o).ID()
	if live == nil || d.last[id] == "" || d.last[id] != d.now[id] {
		return false
	}
	for k, v := range o.Object {
		if k == "status" || v == nil {
			continue
		}
		if lv, ok := live.Object[k]; !ok || !holdsAt(lv, v, k) {
			return false
		}
	}
	return true
}

// applied is the outcome for one object of applyObjects.
type applied struct {
	obj    *unstructured.Unstructured // the server's answer, or the live object when unchanged
	action ssa.Action
}

// applyObjects applies the objects of run at idx, which need no staging,
// with as few requests as the state allows: an object whose last applied
// digest (from the inventory) matches and whose live state still holds
// every field gitopskit sets is left alone with no request; every other
// object gets one server-side apply. An object the plain apply cannot take
// (an immutable field, say) goes through ssa, which recreates it when
// forced.
func (a *actor) applyObjects(ctx context.Context, run *unitRun, idx []int) ([]applied, error) {
	out := make([]applied, len(idx))
	var g errgroup.Group
	g.SetLimit(objectConcurrency)
	for j, i := range idx {
		o, live := run.objs[i], run.live[i]
		if run.unchanged(o, live) {
			out[j] = applied{obj: live, action: ssa.UnchangedAction}
			continue
		}
		existed := run.existed[i]
		if existed && run.ignore.selects(o) {
			// Told apart from what the cluster holds without the ignored
			// paths, which keep their live values: ssa does both.
			g.Go(func() error {
				entry, err := a.rm.Apply(ctx, o.DeepCopy(), ssa.ApplyOptions{Force: a.opts.Force, ForceSelector: forceSelector, DriftIgnoreRules: run.u.DriftIgnore})
				if err != nil {
					return err
				}
				out[j] = applied{obj: o, action: entry.Action}
				return nil
			})
			continue
		}
		g.Go(func() error {
			obj := o.DeepCopy()
			err := a.client.Patch(ctx, obj, client.Apply, client.FieldOwner(a.opts.FieldManager), client.ForceOwnership)
			if err == nil {
				action := ssa.ConfiguredAction
				if !existed {
					action = ssa.CreatedAction
				}
				out[j] = applied{obj: obj, action: action}
				return nil
			}
			// ssa knows how to recreate objects whose immutable fields
			// changed (when forced) and words the errors well.
			entry, err := a.rm.Apply(ctx, o.DeepCopy(), ssa.ApplyOptions{Force: a.opts.Force, ForceSelector: forceSelector})
			if err != nil {
				return err
			}
			out[j] = applied{obj: o, action: entry.Action}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return out, err
	}
	return out, nil
}

// getThreshold is the most objects of one kind and namespace readLive
// reads one by one instead of listing the kind.
const getThreshold = 3

// liveOf reads the live state of the objects that may be unchanged (those
// with a digest in the inventory); the others, objects not found and
// objects that could not be read are nil (and so get applied).
func (a *actor) liveOf(ctx context.Context, objs []*unstructured.Unstructured, d digests) []*unstructured.Unstructured {
	live, _ := a.readLive(ctx, objs, func(i int) bool { return d.known(objs[i]) })
	return live
}

// readLive reads the live state of objs[i] for every i that want selects,
// with one LIST per kind and namespace, or a GET each when there are only
// a few (a LIST of every CRD or Namespace of a cluster costs more than a
// GET or two). Objects that do not exist, or whose kind is not served,
// are nil; any other failure is returned, with what could be read.
func (a *actor) readLive(ctx context.Context, objs []*unstructured.Unstructured, want func(int) bool) ([]*unstructured.Unstructured, error) {
	type groupKey struct {
		gvk schema.GroupVersionKind
		ns  string
	}
	groups := map[groupKey][]int{}
	for i, o := range objs {
		if want(i) {
			k := groupKey{o.GroupVersionKind(), o.GetNamespace()}
			groups[k] = append(groups[k], i)
		}
	}
	gone := func(err error) bool { return apierrors.IsNotFound(err) || meta.IsNoMatchError(err) }
	live := make([]*unstructured.Unstructured, len(objs))
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(objectConcurrency)
	for k, idx := range groups {
		if len(idx) <= getThreshold {
			for _, i := range idx {
				g.Go(func() error {
					obj := &unstructured.Unstructured{}
					obj.SetGroupVersionKind(k.gvk)
					err := a.client.Get(ctx, client.ObjectKeyFromObject(objs[i]), obj)
					switch {
					case err == nil:
						live[i] = obj // each goroutine writes its own slot
					case !gone(err):
						return fmt.Errorf("%s: %w", dag.RefOf(objs[i]), err)
					}
					return nil
				})
			}
			continue
		}
		g.Go(func() error {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
			var opts []client.ListOption
			if k.ns != "" {
				opts = append(opts, client.InNamespace(k.ns))
			}
			if err := a.client.List(ctx, list, opts...); err != nil {
				if gone(err) {
					return nil
				}
				return fmt.Errorf("list %s in %q: %w", k.gvk.Kind, k.ns, err)
			}
			byName := make(map[string]*unstructured.Unstructured, len(list.Items))
			for i := range list.Items {
				byName[list.Items[i].GetName()] = &list.Items[i]
			}
			mu.Lock()
			for _, i := range idx {
				live[i] = byName[objs[i].GetName()]
			}
			mu.Unlock()
			return nil
		})
	}
	return live, g.Wait()
}

// holds reports whether live has every field desired sets, with the same
// value: nothing gitopskit applies has drifted. Fields the server adds
// (defaults, status, metadata it manages) are ignored, and so are the
// forms the server normalises: an empty list or map it drops, a resource
// quantity it writes canonically ("1024Mi" is kept as "1Gi").
func holds(live, desired any) bool { return holdsAt(live, desired, "") }

// quantityParents are the keys whose values are resource quantities.
var quantityParents = map[string]bool{"limits": true, "requests": true, "capacity": true, "hard": true, "allocatable": true}

// holdsAt is holds for the value under key (the values of a map under
// a quantityParents key are compared as quantities).
func holdsAt(live, desired any, key string) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			if dv == nil {
				continue // null sets nothing (e.g. creationTimestamp)
			}
			lv, ok := l[k]
			if !ok {
				if empty(dv) {
					continue
				}
				return false
			}
			if quantityParents[key] && sameQuantity(lv, dv) {
				continue
			}
			if !holdsAt(lv, dv, k) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !holdsAt(l[i], d[i], key) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(live, desired) || fmt.Sprint(live) == fmt.Sprint(desired)
	}
}

// empty reports whether v is an empty list or map, which the server drops.
func empty(v any) bool {
	switch x := v.(type) {
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// sameQuantity reports whether two values are the same resource quantity.
func sameQuantity(a, b any) bool {
	qa, err := resource.ParseQuantity(fmt.Sprint(a))
	if err != nil {
		return false
	}
	qb, err := resource.ParseQuantity(fmt.Sprint(b))
	return err == nil && qa.Cmp(qb) == 0
}

// current reports whether kstatus already calls the object Current, so
// there is nothing to wait for.
func current(o *unstructured.Unstructured) bool {
	res, err := status.Compute(o)
	return err == nil && res.Status == status.CurrentStatus
}

// stringDataToData moves a Secret's stringData into data, base64-encoded,
// stringData winning on conflicts as the API server has it.
func stringDataToData(o *unstructured.Unstructured) error {
	if gvk := o.GroupVersionKind(); gvk.Group != "" || gvk.Kind != "Secret" {
		return nil
	}
	sd, found, err := unstructured.NestedMap(o.Object, "stringData")
	if err != nil || !found {
		return err
	}
	data, _, err := unstructured.NestedMap(o.Object, "data")
	if err != nil {
		return err
	}
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("stringData.%s is not a string", k)
		}
		data[k] = base64.StdEncoding.EncodeToString([]byte(s))
	}
	unstructured.RemoveNestedField(o.Object, "stringData")
	return unstructured.SetNestedMap(o.Object, data, "data")
}

// compileIgnore compiles a unit's DriftIgnore rules.
func compileIgnore(rules []jsondiff.IgnoreRule) (ignoreRules, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	c, err := jsondiff.CompileIgnoreRules(rules)
	if err != nil {
		return nil, fmt.Errorf("driftDetection.ignore: %w", err)
	}
	return ignoreRules(c), nil
}

// unchanged says whether an object needs no request: what was last
// applied is what is applied now and the live object still holds it, but
// for the paths the unit's DriftIgnore rules leave to the cluster.
func (run *unitRun) unchanged(o, live *unstructured.Unstructured) bool {
	return run.digests.unchanged(o, live) || run.ignore.unchanged(run.digests, o, live)
}

type ignoreRules jsondiff.CompiledIgnoreRules

// unchanged says whether o is unchanged but for the paths the rules that
// select it ignore: its digest is the one last applied and the live object
// holds every other field — drift there alone costs no request.
func (r ignoreRules) unchanged(d digests, o, live *unstructured.Unstructured) bool {
	if live == nil || len(r) == 0 {
		return false
	}
	var paths []string
	for sel, ps := range r {
		if sel.MatchUnstructured(o) {
			paths = append(paths, ps...)
		}
	}
	if len(paths) == 0 {
		return false
	}
	if slices.Contains(paths, jsondiff.IgnorePathRoot) {
		return d.last[entryOf(o).ID()] == d.now[entryOf(o).ID()] // the whole object is ignored
	}
	patch := jsondiff.GenerateRemovePatch(paths...)
	po, pl := o.DeepCopy(), live.DeepCopy()
	if jsondiff.ApplyPatchToUnstructured(po, patch) != nil || jsondiff.ApplyPatchToUnstructured(pl, patch) != nil {
		return false
	}
	return d.unchanged(po, pl)
}

// selects says whether some rule selects the object.
func (r ignoreRules) selects(o *unstructured.Unstructured) bool {
	for sel := range r {
		if sel.MatchUnstructured(o) {
			return true
		}
	}
	return false
}
