package render

import (
	"strings"
	"testing"
)

func TestMaskSecret(t *testing.T) {
	secret := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  token: c2VjcmV0\n  other: c2VjcmV0\nstringData:\n  plain: secret\n  changed: secret2\n")
	key := []byte("run-key")
	m := MaskSecret(secret, key)
	data := m.Object["data"].(map[string]any)
	sd := m.Object["stringData"].(map[string]any)
	for _, v := range []any{data["token"], data["other"], sd["plain"], sd["changed"]} {
		if s, _ := v.(string); !strings.HasPrefix(s, "<masked:hmac-sha256:") || strings.Contains(s, "secret") {
			t.Errorf("value not masked: %v", v)
		}
	}
	if data["token"] != sd["plain"] || data["token"] != data["other"] {
		t.Error("equal values (base64 or not) should mask alike")
	}
	if sd["plain"] == sd["changed"] {
		t.Error("a changed value should mask differently")
	}
	if MaskSecret(secret, []byte("other-key")).Object["data"].(map[string]any)["token"] == data["token"] {
		t.Error("another key should mask differently")
	}
	if secret.Object["data"].(map[string]any)["token"] != "c2VjcmV0" {
		t.Error("the original was changed")
	}
	cm := obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
	if m := MaskSecret(cm, key); m.Object["data"].(map[string]any)["a"] != "b" {
		t.Error("a ConfigMap was masked")
	} else if m != cm {
		t.Error("a ConfigMap was copied: only Secrets need a masked copy")
	}
}
