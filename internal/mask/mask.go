// Package mask hides Secret values for printing: each value becomes a keyed
// hash of it, so a change stays visible without the value.
package mask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Secret returns, for a Secret, a copy of u with every value of its data
// and stringData replaced by "<masked:hmac-sha256:…>"; any other object is
// returned as it is, not copied: the result is for reading (printing,
// diffing), never to be changed.
func Secret(u *unstructured.Unstructured, key []byte) *unstructured.Unstructured {
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return u
	}
	out := u.DeepCopy()
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
