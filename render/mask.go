package render

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/mask"
)

// MaskSecret returns u fit for printing: for a Secret, a copy in which
// every value of data and stringData is replaced by a keyed hash of it
// ("<masked:hmac-sha256:…>"), so a change is still visible in a diff while
// the value is not. Other objects are returned as they are, not copied:
// the result is for reading only. Use one random key per run, or a fixed
// one to compare runs.
func MaskSecret(u *unstructured.Unstructured, key []byte) *unstructured.Unstructured {
	return mask.Secret(u, key)
}
