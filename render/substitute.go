package render

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/envsubst"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// SubstituteAnnotation, set to "disabled" on an object (as a label or an
// annotation), keeps postBuild substitution away from it, as in Flux.
const SubstituteAnnotation = "kustomize.toolkit.fluxcd.io/substitute"

// ErrNotFound is what a ValueSource returns for a ConfigMap or Secret it
// does not have.
var ErrNotFound = errors.New("not found")

// ValueSource finds the data of ConfigMaps and Secrets that
// postBuild.substituteFrom and HelmRelease valuesFrom name: objects rendered
// elsewhere in the graph, values a caller supplies, or a cluster. Secret
// data comes decoded. It returns ErrNotFound (wrapped or not) for a missing
// object.
type ValueSource interface {
	Data(ctx context.Context, kind, namespace, name string) (map[string]string, error)
}

// ValueMap is a ValueSource held in memory, keyed by "Kind/namespace/name".
type ValueMap map[string]map[string]string

// Data returns the entry for the object, or ErrNotFound.
func (m ValueMap) Data(_ context.Context, kind, namespace, name string) (map[string]string, error) {
	d, ok := m[kind+"/"+namespace+"/"+name]
	if !ok {
		return nil, ErrNotFound
	}
	return d, nil
}

var varName = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

// substitutionVars resolves the postBuild variables as Flux does: values
// from substituteFrom in order (later wins), then substitute (winning over
// both), newlines removed. A nil map means no substitution happens: there
// are no variables and the strategy is not Always.
func substitutionVars(ctx context.Context, opts KustomizeOptions, ks *unstructured.Unstructured, pb *kustomizev1.PostBuild) (map[string]string, error) {
	if pb == nil {
		return nil, nil
	}
	vars := map[string]string{}
	for _, ref := range pb.SubstituteFrom {
		if ref.Kind != "ConfigMap" && ref.Kind != "Secret" {
			return nil, fmt.Errorf("postBuild.substituteFrom: kind %q is not ConfigMap or Secret", ref.Kind)
		}
		var data map[string]string
		err := ErrNotFound
		if opts.Values != nil {
			data, err = opts.Values.Data(ctx, ref.Kind, ks.GetNamespace(), ref.Name)
		}
		if errors.Is(err, ErrNotFound) && ref.Optional || errors.Is(err, errTreatedAsEmpty) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("postBuild.substituteFrom %s/%s/%s: %w", ref.Kind, ks.GetNamespace(), ref.Name, err)
		}
		for k, v := range data {
			vars[k] = strings.ReplaceAll(v, "\n", "")
		}
	}
	for k, v := range pb.Substitute {
		vars[k] = strings.ReplaceAll(v, "\n", "")
	}
	if len(vars) == 0 && pb.SubstituteStrategy != kustomizev1.SubstituteStrategyAlways {
		return nil, nil
	}
	for k := range vars {
		if !varName.MatchString(k) {
			return nil, fmt.Errorf("postBuild: variable name %q is invalid, it must match %s", k, varName)
		}
	}
	return vars, nil
}

// substitute applies the variables to the objects; objects labelled or
// annotated substitute: disabled are left alone.
func substitute(vars map[string]string, strict bool, objs []Object) error {
	if vars == nil {
		return nil
	}
	for i, o := range objs {
		if o.GetLabels()[SubstituteAnnotation] == "disabled" || o.GetAnnotations()[SubstituteAnnotation] == "disabled" {
			continue
		}
		b, err := MarshalYAML(o.Object)
		if err != nil {
			return err
		}
		var missing []string
		out, err := envsubst.Eval(string(b), func(name string) (string, bool) {
			v, ok := vars[name]
			if !ok && strict {
				missing = append(missing, name)
				return "", false
			}
			return v, true
		})
		if err != nil {
			if len(missing) > 0 {
				return fmt.Errorf("%s (%s): variable %s has no value and no default", objectKey(o.Unstructured), o.Provenance.File, strings.Join(missing, ", "))
			}
			return fmt.Errorf("%s (%s): substitution: %w", objectKey(o.Unstructured), o.Provenance.File, err)
		}
		u, err := decodeObject([]byte(out))
		if err != nil {
			return fmt.Errorf("%s (%s): after substitution: %w", objectKey(o.Unstructured), o.Provenance.File, err)
		}
		objs[i].Unstructured = u
	}
	return nil
}

// applyCommonMetadata adds the spec's labels and annotations to every
// object, overriding what the object has, as kustomize-controller does.
func applyCommonMetadata(cm *kustomizev1.CommonMetadata, objs []Object) error {
	if cm == nil {
		return nil
	}
	for _, o := range objs {
		if len(cm.Labels) > 0 {
			o.SetLabels(merged(o.GetLabels(), cm.Labels))
		}
		if len(cm.Annotations) > 0 {
			o.SetAnnotations(merged(o.GetAnnotations(), cm.Annotations))
		}
	}
	return nil
}

// merged returns base with over's entries set.
func merged(base, over map[string]string) map[string]string {
	if base == nil {
		base = map[string]string{}
	}
	for k, v := range over {
		base[k] = v
	}
	return base
}
