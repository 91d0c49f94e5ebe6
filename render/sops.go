package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// decryption is a Flux Kustomization's spec.decryption.
type decryption struct {
	Provider  string `json:"provider,omitempty"`
	SecretRef *struct {
		Name string `json:"name"`
	} `json:"secretRef,omitempty"`
}

// sopsKeys are the keys a unit decrypts with, read as Flux reads the
// decryption Secret: entries ending in .agekey hold age identities, entries
// ending in .asc armored OpenPGP private keys. Keys for cloud KMS and Vault
// are not used: a file only they can open fails, saying so.
type sopsKeys struct {
	age sopsage.ParsedIdentities
	pgp openpgp.EntityList
}

func parseSOPSKeys(data map[string][]byte) (*sopsKeys, error) {
	k := &sopsKeys{}
	for _, name := range slices.Sorted(maps.Keys(data)) {
		switch {
		case strings.HasSuffix(name, ".agekey"):
			if err := k.age.Import(string(data[name])); err != nil {
				return nil, fmt.Errorf("%s: not age identities: %w", name, err)
			}
		case strings.HasSuffix(name, ".asc"):
			ents, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data[name]))
			if err != nil {
				return nil, fmt.Errorf("%s: not an armored OpenPGP key: %w", name, err)
			}
			k.pgp = append(k.pgp, ents...)
		}
	}
	return k, nil
}

// Decrypt implements sops' key service for the keys held in memory: the
// data key of a file is opened with an age identity or an OpenPGP key, and
// nothing is read from the environment, a keyring on disk or the network.
func (k *sopsKeys) Decrypt(_ context.Context, req *keyservice.DecryptRequest, _ ...grpc.CallOption) (*keyservice.DecryptResponse, error) {
	switch key := req.Key.GetKeyType().(type) {
	case *keyservice.Key_AgeKey:
		if len(k.age) == 0 {
			return nil, errors.New("no age identity (.agekey) to open it with")
		}
		mk := &sopsage.MasterKey{Recipient: key.AgeKey.Recipient, EncryptedKey: string(req.Ciphertext)}
		k.age.ApplyToMasterKey(mk)
		plain, err := mk.Decrypt()
		if err != nil {
			return nil, err
		}
		return &keyservice.DecryptResponse{Plaintext: plain}, nil
	case *keyservice.Key_PgpKey:
		if len(k.pgp) == 0 {
			return nil, errors.New("no OpenPGP key (.asc) to open it with")
		}
		block, err := armor.Decode(bytes.NewReader(req.Ciphertext))
		if err != nil {
			return nil, err
		}
		md, err := openpgp.ReadMessage(block.Body, k.pgp, nil, nil)
		if err != nil {
			return nil, err
		}
		plain, err := io.ReadAll(md.UnverifiedBody)
		if err != nil {
			return nil, err
		}
		return &keyservice.DecryptResponse{Plaintext: plain}, nil
	default:
		return nil, fmt.Errorf("a %T key: gitopskit decrypts with age and OpenPGP keys only (cloud KMS and Vault are not supported)", key)
	}
}

// Encrypt is not offered: rendering only decrypts.
func (k *sopsKeys) Encrypt(context.Context, *keyservice.EncryptRequest, ...grpc.CallOption) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("encryption is not offered")
}

// sopsEncrypted reports whether data looks like a SOPS file (cheap test
// first; the store decides).
func sopsEncrypted(data []byte) bool {
	return bytes.Contains(data, []byte("sops")) && bytes.Contains(data, []byte("mac")) && bytes.Contains(data, []byte("ENC["))
}

// sopsStore is the part of a sops store decryption uses.
type sopsStore interface {
	LoadEncryptedFile([]byte) (sops.Tree, error)
	EmitPlainFile(sops.TreeBranches) ([]byte, error)
}

// storeFor picks the store by file name, as the sops tool and Flux do:
// .json, .yaml/.yml, .env, and anything else as a binary file.
func storeFor(name string) sopsStore {
	switch path.Ext(name) {
	case ".json":
		return &sopsjson.Store{}
	case ".yaml", ".yml":
		return &sopsyaml.Store{}
	case ".env":
		return &dotenv.Store{}
	}
	return &sopsjson.BinaryStore{}
}

// decryptSOPS decrypts a SOPS-encrypted file with keys, checking its MAC,
// and returns the plain file; one that is not encrypted is returned as it
// is. A file of objects may hold only Secrets (anything else would leave
// its values unmasked in renders and plans); an input of a secretGenerator
// (generatorInput) may be any format, as its content becomes a Secret's.
func decryptSOPS(name string, data []byte, keys *sopsKeys, generatorInput bool) ([]byte, error) {
	if !sopsEncrypted(data) {
		return data, nil
	}
	var st sopsStore = &sopsyaml.Store{}
	if generatorInput || path.Ext(name) == ".json" {
		st = storeFor(name)
	}
	tree, err := st.LoadEncryptedFile(data)
	if err != nil {
		if errors.Is(err, sops.MetadataNotFound) {
			return data, nil
		}
		return nil, fmt.Errorf("SOPS: %w", err)
	}
	if keys == nil {
		return nil, errors.New("is SOPS-encrypted and the Kustomization has no spec.decryption: refusing to apply ciphertext")
	}
	if err := decryptTree(&tree, keys); err != nil {
		return nil, fmt.Errorf("SOPS: cannot decrypt: %w", err)
	}
	plain, err := st.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, fmt.Errorf("SOPS: %w", err)
	}
	if generatorInput {
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

// decryptTree opens the tree's data key with keys, decrypts its values in
// place and checks the file's MAC over them: a file changed since it was
// encrypted is refused.
func decryptTree(tree *sops.Tree, keys *sopsKeys) error {
	dataKey, err := tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{keys}, sops.DefaultDecryptionOrder)
	if err != nil {
		return err
	}
	cipher := aes.NewCipher()
	computed, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return err
	}
	stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("the MAC does not decrypt: %w", err)
	}
	if s, _ := stored.(string); s != computed {
		return errors.New("the MAC does not match: the file was changed after it was encrypted")
	}
	return nil
}

// splitDocuments decodes the objects of a YAML or JSON stream.
func splitDocuments(b []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range bytes.Split(b, []byte("\n---")) {
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
func (k *Kustomize) unitKeys(ctx context.Context, ks *unstructured.Unstructured, d *decryption) (*sopsKeys, string, error) {
	if d == nil {
		return nil, "", nil
	}
	if d.Provider != "sops" {
		return nil, "", fmt.Errorf("spec.decryption.provider %q is not supported (sops is)", d.Provider)
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
	keys, err := parseSOPSKeys(data)
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
