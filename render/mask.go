package render

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// MaskSecret returns a copy of u fit for printing: for a Secret, every value
// of data and stringData is replaced by a keyed hash of it
// ("<masked:hmac-sha256:…>"), so a change is still visible in a diff while
// the value is not. Other objects are returned as they are (a copy). Use
// one random key per run, or a fixed one to compare runs.
func MaskSecret(u *unstructured.Unstructured, key []byte) *unstructured.Unstructured {
	out := u.DeepCopy()
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return out
	}
	for _, field := range []string{"data", "stringData"} {
		m, ok, _ := unstructured.NestedMap(out.Object, field)
		if !ok {
			continue
		}
		for k, v := range m {
			s, _ := v.(string)
			raw := []byte(s)
			if field == "data" {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					raw = b // hash the value, not its encoding
				}
			}
			mac := hmac.New(sha256.New, key)
			mac.Write(raw)
			m[k] = "<masked:hmac-sha256:" + hex.EncodeToString(mac.Sum(nil))[:16] + ">"
		}
		_ = unstructured.SetNestedMap(out.Object, m, field)
	}
	return out
}
