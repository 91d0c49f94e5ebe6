package render

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitopskit/gitopskit/dag"
)

// Spec is what the stages after rendering need of a Flux Kustomization or
// HelmRelease: Flux's reconcile semantics, read once by Load. A value that
// does not parse (a timeout of "5x", a health check with no kind) fails
// the unit, naming the field.
type Spec struct {
	// Links are what dag and apply order the unit by: Ref (the object
	// itself), Parent (set by Load), DependsOn (spec.dependsOn, namespace
	// defaulted to the unit's own as Flux does), HealthChecks
	// (spec.healthChecks; empty when Wait is set, as Flux ignores them
	// then — one naming a Kustomization or HelmRelease names that unit: it
	// is satisfied when the unit is Ready) and AwaitChildren (a
	// Kustomization's wait: true also covers the units it defines).
	dag.Links
	// Suspended is spec.suspend.
	Suspended bool
	// Prune is whether objects the unit stops rendering are deleted:
	// spec.prune of a Kustomization (true when left out); always true for
	// a HelmRelease, as an upgrade removes what the chart no longer
	// renders.
	Prune bool
	// Wait is whether the unit waits for what it applies to be healthy
	// before it is Ready: a Kustomization's spec.wait; a HelmRelease unless
	// both install.disableWait and upgrade.disableWait are set (gitopskit
	// does not tell an install from an upgrade; waiting is the safe side).
	Wait bool
	// Timeout is spec.timeout (zero when unset: the applier's default).
	Timeout time.Duration
	// Interval and RetryInterval are spec.interval and spec.retryInterval
	// (zero when unset).
	Interval, RetryInterval time.Duration
	// ServiceAccountName is spec.serviceAccountName.
	ServiceAccountName string
	// TargetNamespace is spec.targetNamespace.
	TargetNamespace string
}

// fluxSpec is the shape of the fields Spec reads, common to every served
// version of Kustomization and HelmRelease.
type fluxSpec struct {
	DependsOn []struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace,omitempty"`
	} `json:"dependsOn,omitempty"`
	Suspend       bool             `json:"suspend,omitempty"`
	Prune         *bool            `json:"prune,omitempty"`
	Wait          bool             `json:"wait,omitempty"`
	Timeout       *metav1.Duration `json:"timeout,omitempty"`
	Interval      *metav1.Duration `json:"interval,omitempty"`
	RetryInterval *metav1.Duration `json:"retryInterval,omitempty"`
	HealthChecks  []struct {
		APIVersion string `json:"apiVersion,omitempty"`
		Kind       string `json:"kind"`
		Name       string `json:"name"`
		Namespace  string `json:"namespace,omitempty"`
	} `json:"healthChecks,omitempty"`
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	TargetNamespace    string `json:"targetNamespace,omitempty"`
	Install            *struct {
		DisableWait bool `json:"disableWait,omitempty"`
	} `json:"install,omitempty"`
	Upgrade *struct {
		DisableWait bool `json:"disableWait,omitempty"`
	} `json:"upgrade,omitempty"`
}

// specOf reads a Flux unit's Spec. Errors name the field.
func specOf(obj *unstructured.Unstructured) (Spec, error) {
	raw, ok := obj.Object["spec"]
	if !ok {
		return Spec{}, fmt.Errorf("%s has no spec", UnitID(obj))
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return Spec{}, err
	}
	var fs fluxSpec
	if err := json.Unmarshal(b, &fs); err != nil {
		return Spec{}, fmt.Errorf("spec: %w", unmarshalField(err))
	}
	helm := obj.GroupVersionKind().Group == HelmGroup
	// Flux's CRD requires prune; a Kustomization that leaves it out (which
	// the API server would refuse) prunes, as gitopskit has always read it.
	s := Spec{Suspended: fs.Suspend, Prune: helm || fs.Prune == nil || *fs.Prune, Wait: fs.Wait,
		ServiceAccountName: fs.ServiceAccountName, TargetNamespace: fs.TargetNamespace}
	s.Ref = dag.RefOf(obj)
	if helm {
		s.Wait = !(fs.Install != nil && fs.Install.DisableWait && fs.Upgrade != nil && fs.Upgrade.DisableWait)
	} else {
		s.AwaitChildren = s.Wait
	}
	for _, d := range []struct {
		to   *time.Duration
		from *metav1.Duration
		name string
	}{{&s.Timeout, fs.Timeout, "timeout"}, {&s.Interval, fs.Interval, "interval"}, {&s.RetryInterval, fs.RetryInterval, "retryInterval"}} {
		if d.from == nil {
			continue
		}
		if d.from.Duration < 0 {
			return Spec{}, fmt.Errorf("spec.%s: %s is negative", d.name, d.from.Duration)
		}
		*d.to = d.from.Duration
	}
	for i, d := range fs.DependsOn {
		if d.Name == "" {
			return Spec{}, fmt.Errorf("spec.dependsOn[%d]: name is required", i)
		}
		ns := d.Namespace
		if ns == "" {
			ns = obj.GetNamespace()
		}
		id := obj.GetKind() + "/" + ns + "/" + d.Name
		if id == UnitID(obj) {
			return Spec{}, fmt.Errorf("spec.dependsOn[%d] names the unit itself, so it could never be ready", i)
		}
		s.DependsOn = append(s.DependsOn, id)
	}
	if s.Wait && !helm {
		return s, nil // Flux ignores healthChecks when wait is set
	}
	for i, c := range fs.HealthChecks {
		gv, err := schema.ParseGroupVersion(c.APIVersion)
		if err != nil || c.Kind == "" || c.Name == "" {
			return Spec{}, fmt.Errorf("spec.healthChecks[%d]: a valid apiVersion, a kind and a name are required (got %q, %q, %q)", i, c.APIVersion, c.Kind, c.Name)
		}
		ref := dag.ObjectRef{Group: gv.Group, Kind: c.Kind, Namespace: c.Namespace, Name: c.Name}
		if fluxUnitKind(ref.GroupKind()) && ref.Namespace == "" {
			ref.Namespace = obj.GetNamespace()
		}
		s.HealthChecks = append(s.HealthChecks, ref)
	}
	return s, nil
}

// fluxUnitKind reports whether objects of gk define units.
func fluxUnitKind(gk schema.GroupKind) bool {
	return gk == schema.GroupKind{Group: KustomizeGroup, Kind: "Kustomization"} || gk == schema.GroupKind{Group: HelmGroup, Kind: "HelmRelease"}
}

// unmarshalField words a JSON error by the field it is about.
func unmarshalField(err error) error {
	if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
		return fmt.Errorf("%s: %s is not a %s", te.Field, te.Value, te.Type)
	}
	msg := err.Error()
	if i := strings.Index(msg, "time: "); i >= 0 {
		return fmt.Errorf("a duration does not parse: %s", msg[i:])
	}
	return err
}
