// Package sops decrypts SOPS-encrypted files for render, with the getsops
// packages and keys held in memory: age identities and OpenPGP private
// keys, as a Flux decryption Secret holds them (entries ending in .agekey
// and .asc). Nothing is read from the environment, a keyring on disk or
// the network; a file only a cloud KMS or Vault key opens is refused,
// saying so.
//
// It is a package of its own so that a program rendering without
// decryption does not link the sops packages (and the cloud SDKs they
// bring): set render.LoadOptions.Decryptor (or KustomizeOptions.Decryptor)
// to Decryptor{} to decrypt; the Reconciler does by default.
package sops

import (
	"bytes"
	"context"
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
	gosops "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"google.golang.org/grpc"

	"github.com/gitopskit/gitopskit/render"
)

// Decryptor is a render.Decryptor for SOPS files.
type Decryptor struct{}

var _ render.Decryptor = Decryptor{}

// Open parses the keys of a decryption Secret's data.
func (Decryptor) Open(data map[string][]byte) (render.FileDecryptor, error) {
	k := &keys{}
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

// keys are one unit's keys; they are sops' key service for its files.
type keys struct {
	age sopsage.ParsedIdentities
	pgp openpgp.EntityList
}

// store is the part of a sops store decryption uses.
type store interface {
	LoadEncryptedFile([]byte) (gosops.Tree, error)
	EmitPlainFile(gosops.TreeBranches) ([]byte, error)
}

// storeFor picks the store by file name, as the sops tool and Flux do:
// .json, .yaml/.yml, .env, and anything else as a binary file.
func storeFor(name string) store {
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

// Decrypt decrypts one file, checking its MAC. A manifest is read as YAML
// (JSON for .json); a generator input in its own format. A file without
// SOPS metadata is returned as it is.
func (k *keys) Decrypt(name string, data []byte, generatorInput bool) ([]byte, error) {
	var st store = &sopsyaml.Store{}
	if generatorInput || path.Ext(name) == ".json" {
		st = storeFor(name)
	}
	tree, err := st.LoadEncryptedFile(data)
	if errors.Is(err, gosops.MetadataNotFound) {
		return data, nil
	}
	if err != nil {
		return nil, err
	}
	dataKey, err := tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyService{k}}, gosops.DefaultDecryptionOrder)
	if err != nil {
		return nil, fmt.Errorf("cannot decrypt: %w", err)
	}
	cipher := aes.NewCipher()
	computed, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("cannot decrypt: %w", err)
	}
	stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("cannot decrypt: the MAC does not decrypt: %w", err)
	}
	if s, _ := stored.(string); s != computed {
		return nil, errors.New("cannot decrypt: the MAC does not match: the file was changed after it was encrypted")
	}
	return st.EmitPlainFile(tree.Branches)
}

// decryptKey opens a file's data key with an age identity or an OpenPGP
// key.
func (k *keys) decryptKey(req *keyservice.DecryptRequest) ([]byte, error) {
	switch key := req.Key.GetKeyType().(type) {
	case *keyservice.Key_AgeKey:
		if len(k.age) == 0 {
			return nil, errors.New("no age identity (.agekey) to open it with")
		}
		mk := &sopsage.MasterKey{Recipient: key.AgeKey.Recipient, EncryptedKey: string(req.Ciphertext)}
		k.age.ApplyToMasterKey(mk)
		return mk.Decrypt()
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
		return io.ReadAll(md.UnverifiedBody)
	default:
		return nil, fmt.Errorf("a %T key: gitopskit decrypts with age and OpenPGP keys only (cloud KMS and Vault are not supported)", key)
	}
}

// keyService is sops' key service for one unit's keys.
type keyService struct{ k *keys }

func (s keyService) Decrypt(_ context.Context, req *keyservice.DecryptRequest, _ ...grpc.CallOption) (*keyservice.DecryptResponse, error) {
	plain, err := s.k.decryptKey(req)
	if err != nil {
		return nil, err
	}
	return &keyservice.DecryptResponse{Plaintext: plain}, nil
}

// Encrypt is not offered: rendering only decrypts.
func (keyService) Encrypt(context.Context, *keyservice.EncryptRequest, ...grpc.CallOption) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("encryption is not offered")
}
