package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// decryption is a Flux Kustomization's spec.decryption.
type decryption struct {
	Provider  string `json:"provider,omitempty"`
	SecretRef *struct {
		Name string `json:"name"`
	} `json:"secretRef,omitempty"`
}

// Decryptor decrypts the SOPS-encrypted files of units with
// spec.decryption. render/sops.Decryptor is the one gitopskit has; it is
// apart so that rendering without decryption does not link sops.
type Decryptor interface {
	// Open takes a unit's keys, as a Flux decryption Secret's data holds
	// them (*.agekey, *.asc).
	Open(keys map[string][]byte) (FileDecryptor, error)
}

// FileDecryptor decrypts one unit's files.
type FileDecryptor interface {
	// Decrypt returns the plain content of the file name: a manifest
	// (YAML, or JSON for .json), or with generatorInput a secretGenerator's
	// input in the format its name says (.env, .json, .yaml, binary). A
	// file it does not find encrypted it returns as it is.
	Decrypt(name string, data []byte, generatorInput bool) ([]byte, error)
}

// sopsEncrypted reports whether data looks like a SOPS file (cheap test
// first; the store decides).
func sopsEncrypted(data []byte) bool {
	return bytes.Contains(data, []byte("sops")) && bytes.Contains(data, []byte("mac")) && bytes.Contains(data, []byte("ENC["))
}

// decryptSOPS decrypts a SOPS-encrypted file with the unit's decryptor
// (nil: the unit has no spec.decryption) and returns the plain file; one
// that is not encrypted is returned as it is. A file of objects may hold
// only Secrets (anything else would leave its values unmasked in renders
// and plans); a secretGenerator's input may be any format, as its content
// becomes a Secret's.
func decryptSOPS(name string, data []byte, dec FileDecryptor, generatorInput bool) ([]byte, error) {
	if !sopsEncrypted(data) {
		return data, nil
	}
	if dec == nil {
		return nil, errors.New("is SOPS-encrypted and the Kustomization has no spec.decryption: refusing to apply ciphertext")
	}
	plain, err := dec.Decrypt(name, data, generatorInput)
	if err != nil {
		return nil, fmt.Errorf("SOPS: %w", err)
	}
	if generatorInput || bytes.Equal(plain, data) {
		return plain, nil
	}
	docs, err := splitDocuments(plain)
	if err != nil {
		return nil, fmt.Errorf("SOPS: %w", err)
	}
	for _, d := range docs {
		if d.GetKind() != "Secret" || d.GroupVersionKind().Group != "" {
			return nil, fmt.Errorf("SOPS: %s %s is encrypted; only Secrets are decrypted (their values are masked wherever gitopskit shows them)", d.GetKind(), d.GetName())
		}
	}
	return plain, nil
}

// splitDocuments decodes the objects of a YAML or JSON stream, split as
// the API machinery splits documents.
func splitDocuments(b []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	docs, err := splitYAML(b)
	if err != nil {
		return nil, err
	}
	for _, doc := range docs {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		u, err := decodeObject(doc)
		if err != nil {
			return nil, err
		}
		if u.Object != nil {
			out = append(out, u)
		}
	}
	return out, nil
}

// unitKeys gathers a unit's decryption keys: the caller's, and the Secret
// spec.decryption.secretRef names in the unit's namespace (from the graph,
// or, for a Reconciler, the cluster), with a digest of them for the render
// cache. Nil means the unit decrypts nothing.
func (k *Kustomize) unitKeys(ctx context.Context, ks *unstructured.Unstructured, d *decryption) (FileDecryptor, string, error) {
	if d == nil {
		return nil, "", nil
	}
	if d.Provider != "sops" {
		return nil, "", fmt.Errorf("spec.decryption.provider %q is not supported (sops is)", d.Provider)
	}
	if k.opts.Decryptor == nil {
		return nil, "", errors.New("spec.decryption: this renderer decrypts nothing (set LoadOptions.Decryptor, e.g. to render/sops.Decryptor{}; a Reconciler does)")
	}
	data := map[string][]byte{}
	for name, v := range k.opts.DecryptionKeys {
		data[name] = v
	}
	if d.SecretRef != nil && d.SecretRef.Name != "" {
		var found map[string]string
		err := ErrNotFound
		if k.opts.Values != nil {
			found, err = k.opts.Values.Data(ctx, "Secret", ks.GetNamespace(), d.SecretRef.Name)
		}
		switch {
		case err == nil:
			for name, v := range found {
				data[name] = []byte(v)
			}
		case errors.Is(err, ErrNotFound) && len(k.opts.DecryptionKeys) > 0:
			// Offline, with the caller's keys.
		default:
			return nil, "", fmt.Errorf("spec.decryption.secretRef: Secret %s/%s: %w", ks.GetNamespace(), d.SecretRef.Name, err)
		}
	}
	keys, err := k.opts.Decryptor.Open(data)
	if err != nil {
		return nil, "", fmt.Errorf("spec.decryption: %w", err)
	}
	h := sha256.New()
	names := slices.Sorted(maps.Keys(data))
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data[name]))
		h.Write(data[name])
	}
	return keys, hex.EncodeToString(h.Sum(nil)), nil
}
