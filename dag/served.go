package dag

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// servedKinds returns the kinds a cluster serves without any CRD: the
// built-in APIs client-go knows (at the Kubernetes version gitopskit is
// built with), the two served by the API server's own extensions, and the
// caller's pre-installed kinds.
func servedKinds(preinstalled []schema.GroupKind) map[schema.GroupKind]bool {
	known := scheme.Scheme.AllKnownTypes()
	out := make(map[schema.GroupKind]bool, len(known)+len(preinstalled)+2)
	for gvk := range known {
		out[gvk.GroupKind()] = true
	}
	out[schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}] = true
	out[schema.GroupKind{Group: "apiregistration.k8s.io", Kind: "APIService"}] = true
	for _, gk := range preinstalled {
		out[gk] = true
	}
	return out
}
