package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	kustomizev1beta2 "github.com/fluxcd/kustomize-controller/api/v1beta2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/memo"
)

// The API group Flux Kustomizations belong to.
const KustomizeGroup = "kustomize.toolkit.fluxcd.io"

// UnitID names the unit an object defines: Kind/namespace/name.
func UnitID(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// decodeStrict decodes an object's JSON into out, rejecting fields out does
// not have.
func decodeStrict(u *unstructured.Unstructured, out any) error {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	return decodeStrictJSON(u, b, out)
}

// decodeStrictJSON is decodeStrict of u's JSON, b.
func decodeStrictJSON(u *unstructured.Unstructured, b []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("spec does not match %s: %w", u.GetAPIVersion(), err)
	}
	return nil
}

// kustomization is what rendering needs of a Flux Kustomization, whatever
// its version.
type kustomization struct {
	Path           string                      `json:"path,omitempty"`
	CommonMetadata *kustomizev1.CommonMetadata `json:"commonMetadata,omitempty"`
	PostBuild      *kustomizev1.PostBuild      `json:"postBuild,omitempty"`
	Decryption     *decryption                 `json:"decryption,omitempty"`
}

// kustomizationSpec reads a Flux Kustomization of a served version. Unknown
// fields are errors; the fields it uses that gitopskit does not implement,
// and that would change what is applied or where, are returned, for the
// renderer to refuse (refuseUnimplemented).
func kustomizationSpec(u *unstructured.Unstructured) (kustomization, []string, error) {
	return specOnce(u, decodeKustomizationSpec)
}

// decodedSpec is a unit spec read by specOnce.
type decodedSpec struct {
	spec          any
	unimplemented []string
	err           error
}

// decodedSpecs keeps unit specs as read from objects, by the digest of the
// object's JSON: an unchanged unit (a warm load) is decoded once per
// process. What it keeps is only read: a spec's values are copied before
// anything is merged into them.
var decodedSpecs = memo.New[[sha256.Size]byte, decodedSpec](4096)

// specOnce is decode(u, u's JSON), once per content of u per process.
func specOnce[T any](u *unstructured.Unstructured, decode func(*unstructured.Unstructured, []byte) (T, []string, error)) (T, []string, error) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		var zero T
		return zero, nil, err
	}
	sum := sha256.Sum256(b)
	if d, ok := decodedSpecs.Get(sum); ok {
		if spec, ok := d.spec.(T); ok {
			return spec, d.unimplemented, d.err
		}
	}
	spec, unimplemented, err := decode(u, b)
	decodedSpecs.Put(sum, decodedSpec{spec: spec, unimplemented: unimplemented, err: err})
	return spec, unimplemented, err
}

func decodeKustomizationSpec(u *unstructured.Unstructured, b []byte) (kustomization, []string, error) {
	gv := u.GroupVersionKind()
	if gv.Group != KustomizeGroup || gv.Kind != "Kustomization" {
		return kustomization{}, nil, fmt.Errorf("not a Flux Kustomization: %s", u.GetAPIVersion()+"/"+u.GetKind())
	}
	var spec any
	switch gv.Version {
	case "v1":
		var ks kustomizev1.Kustomization
		if err := decodeStrictJSON(u, b, &ks); err != nil {
			return kustomization{}, nil, err
		}
		spec = ks.Spec
	case "v1beta2":
		var ks kustomizev1beta2.Kustomization
		if err := decodeStrictJSON(u, b, &ks); err != nil {
			return kustomization{}, nil, err
		}
		spec = ks.Spec
	default:
		return kustomization{}, nil, fmt.Errorf("unsupported version %s of Kustomization (v1 and v1beta2 are read)", u.GetAPIVersion())
	}
	// What rendering reads has the same shape in both versions.
	var common struct {
		kustomization
		KubeConfig *struct{} `json:"kubeConfig,omitempty"`
	}
	if err := convert(spec, &common); err != nil {
		return kustomization{}, nil, err
	}
	var unimplemented []string
	if common.KubeConfig != nil {
		unimplemented = append(unimplemented, "spec.kubeConfig is not implemented: the unit would be applied to the reconciler's cluster")
	}
	return common.kustomization, unimplemented, nil
}

// refuseUnimplemented turns the unimplemented fields a unit uses into an
// error, or, when the caller chose to ignore them, into warnings.
func refuseUnimplemented(fields []string, ignore bool) ([]string, error) {
	if len(fields) == 0 || ignore {
		return fields, nil
	}
	return nil, fmt.Errorf("%s; refusing, as it would change what is applied (LoadOptions.IgnoreUnimplemented renders it anyway)", strings.Join(fields, "; "))
}

// convert copies between two versions of the same shape through JSON.
func convert(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// cleanPath turns a Flux spec.path ("./apps", "apps", "/apps", "") into a
// slash path relative to the artifact root, refusing one that leaves it.
func cleanPath(p string) (string, bool) {
	p = path.Clean(strings.TrimLeft(strings.ReplaceAll(p, "\\", "/"), "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, true
}
