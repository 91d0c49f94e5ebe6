package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// OwnerLabel is set on every object gitopskit applies to the unit that
// applies it, so `kubectl get -l gitopskit.dev/unit=…` finds a unit's
// objects and prune has a second guard: an object whose label names
// another unit is never deleted by this one. Its value is OwnerValue of the
// unit's ID.
const OwnerLabel = "gitopskit.dev/unit"

// OwnerValue is the OwnerLabel value for a unit ID: the ID with "/" as
// "." ("Kustomization.flux-system.apps") when that is a valid label value,
// or else "sha256-" and the start of the ID's digest.
func OwnerValue(unit string) string {
	v := strings.ReplaceAll(unit, "/", ".")
	if len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	sum := sha256.Sum256([]byte(unit))
	return "sha256-" + hex.EncodeToString(sum[:])[:48]
}

// withOwner sets OwnerLabel on o (a copy, about to be applied).
func withOwner(o *unstructured.Unstructured, unit string) {
	labels := o.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[OwnerLabel] = OwnerValue(unit)
	o.SetLabels(labels)
}

// ownedByOther reports whether live's OwnerLabel names a unit other than
// unit.
func ownedByOther(live *unstructured.Unstructured, unit string) bool {
	v, ok := live.GetLabels()[OwnerLabel]
	return ok && v != OwnerValue(unit)
}
