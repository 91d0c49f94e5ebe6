package render

import (
	_ "embed"
	"slices"
	"strings"
)

// DefaultKubeVersion is the Kubernetes version a render assumes when none
// is given (LoadOptions.KubeVersion, HelmOptions.KubeVersion): the one the
// client libraries gitopskit is built with target (k8s.io/client-go
// v0.37 → Kubernetes v1.37), not Helm's library default of v1.20, which no
// current chart supports. A Reconciler uses its cluster's version instead.
const DefaultKubeVersion = "v1.37.2"

// builtinAPIs lists what a kube-apiserver of DefaultKubeVersion serves with
// its default settings, as "group/version" and "group/version/Kind" lines —
// read off the real server (TestBuiltinAPIs checks it, and rewrites it with
// -update).
//
//go:embed builtin-apis.txt
var builtinAPIs string

// BuiltinAPIVersions returns what a kube-apiserver of DefaultKubeVersion
// serves with its default settings, as Helm's .Capabilities.APIVersions
// names them: "group/version" and "group/version/Kind" ("v1" and
// "v1/ConfigMap" for the core group). A render with no cluster starts from
// these and adds what the graph's CRDs serve.
func BuiltinAPIVersions() []string {
	return strings.Fields(builtinAPIs)
}

// capabilityAPIs is the API version set of a render: the built-in APIs
// (or base, when the caller knows the cluster's) and extra, sorted and
// without repeats.
func capabilityAPIs(base, extra []string) []string {
	if base == nil {
		base = BuiltinAPIVersions()
	}
	out := append(slices.Clone(base), extra...)
	slices.Sort(out)
	return slices.Compact(out)
}
