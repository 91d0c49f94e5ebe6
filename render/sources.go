package render

import (
	"fmt"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	sourcev1beta2 "github.com/fluxcd/source-controller/api/v1beta2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// checkSource reads a Flux source object (GitRepository, HelmRepository,
// OCIRepository; v1 or v1beta2) strictly, and lists the fields it sets
// that a load does not act on. Unknown fields and unknown versions are
// errors.
func checkSource(u *unstructured.Unstructured, ignoreUnimplemented bool) (warnings []string, err error) {
	gvk := u.GroupVersionKind()
	var typed any
	switch gvk.Version + "/" + gvk.Kind {
	case "v1/GitRepository":
		typed = &sourcev1.GitRepository{}
	case "v1beta2/GitRepository":
		typed = &sourcev1beta2.GitRepository{}
	case "v1/HelmRepository":
		typed = &sourcev1.HelmRepository{}
	case "v1beta2/HelmRepository":
		typed = &sourcev1beta2.HelmRepository{}
	case "v1/OCIRepository":
		typed = &sourcev1.OCIRepository{}
	case "v1beta2/OCIRepository":
		typed = &sourcev1beta2.OCIRepository{}
	case "v1/HelmChart":
		typed = &sourcev1.HelmChart{}
	case "v1beta2/HelmChart":
		typed = &sourcev1beta2.HelmChart{}
	case "v1/Bucket", "v1beta2/Bucket", "v1/ExternalArtifact":
		return []string{fmt.Sprintf("%s %s/%s is not used by gitopskit yet", gvk.Kind, u.GetNamespace(), u.GetName())}, nil
	default:
		return nil, fmt.Errorf("%s %s/%s: unsupported version %s", gvk.Kind, u.GetNamespace(), u.GetName(), u.GetAPIVersion())
	}
	if err := decodeStrict(u, typed); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
	}
	name := gvk.Kind + " " + u.GetNamespace() + "/" + u.GetName()
	notUsed := map[string]string{
		"proxySecretRef":     "proxies are not supported",
		"verify":             "signature verification is not implemented",
		"include":            "including other repositories is not implemented",
		"recurseSubmodules":  "submodules are not fetched",
		"sparseCheckout":     "sparse checkout is not implemented; the whole tree is fetched",
		"provider":           "cloud provider authentication is not implemented",
		"serviceAccountName": "service account authentication is not implemented",
	}
	// These would change what is applied: other content, or content not
	// verified as asked.
	changesContent := map[string]bool{"verify": true, "include": true, "recurseSubmodules": true}
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	var unimplemented []string
	for _, field := range []string{"proxySecretRef", "verify", "include", "recurseSubmodules", "sparseCheckout", "provider", "serviceAccountName"} {
		v, ok := spec[field]
		if !ok || v == false || v == "" || v == "generic" {
			continue
		}
		msg := fmt.Sprintf("spec.%s: %s", field, notUsed[field])
		if changesContent[field] {
			unimplemented = append(unimplemented, msg)
			continue
		}
		warnings = append(warnings, name+": "+msg)
	}
	more, err := refuseUnimplemented(unimplemented, ignoreUnimplemented)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, m := range more {
		warnings = append(warnings, name+": "+m)
	}
	return warnings, nil
}
