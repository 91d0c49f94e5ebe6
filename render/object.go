package render

import (
	"bytes"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/yaml"
)

// Provenance says where a rendered object came from.
type Provenance struct {
	// Unit is the ID of the unit that rendered it, e.g.
	// "Kustomization/flux-system/apps".
	Unit string
	// File is the source file, relative to the artifact root, for
	// Kustomize; the template path inside the chart for Helm (e.g.
	// "podinfo/templates/deployment.yaml"); empty for generated objects.
	File string
	// Revision is the source artifact's revision.
	Revision string
	// Chart is "<name>-<version>" and ChartDigest the chart artifact's
	// digest, for Helm.
	Chart, ChartDigest string
}

// Object is one rendered Kubernetes object with its provenance.
type Object struct {
	*unstructured.Unstructured
	Provenance Provenance
}

// Result is what rendering one unit produced.
type Result struct {
	Unit    string
	Objects []Object
	// Hooks are Helm hooks, kept apart from the objects a release applies.
	Hooks []Hook
	// Warnings are things the renderer noticed and did not act on, such as
	// Flux spec fields gitopskit does not implement.
	Warnings []string
	// Rejected are Flux units in the output that could not be read, left
	// out of Objects; each fails alone.
	Rejected []RejectedUnit
}

// Hook is a Helm hook resource with its phases and weight.
type Hook struct {
	Object
	// Events are the hook annotations' phases, e.g. "pre-install".
	Events []string
	Weight int
}

// decodeObject reads one YAML or JSON object the way the API machinery
// does, so integers stay int64 rather than becoming float64.
func decodeObject(b []byte) (*unstructured.Unstructured, error) {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if string(j) == "null" || len(bytes.TrimSpace(j)) == 0 {
		return u, nil
	}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, err
	}
	return u, nil
}

// resourceObject converts a kustomize resource straight through JSON, the
// cheapest way there (its YAML form would be parsed twice).
func resourceObject(r *resource.Resource) (*unstructured.Unstructured, error) {
	j, err := r.MarshalJSON()
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, err
	}
	return u, nil
}
