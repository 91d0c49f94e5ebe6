// Package sopstest makes SOPS keys and encrypts files with them, for
// tests of decryption: age identities and OpenPGP keys generated on the
// spot, files encrypted with the sops Go packages as the sops tool would.
package sopstest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/pgp"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"google.golang.org/grpc"
)

// Keys are one age identity and one OpenPGP key.
type Keys struct {
	Age *age.X25519Identity
	PGP *openpgp.Entity
}

// NewKeys generates the keys.
func NewKeys(t testing.TB) *Keys {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ent, err := openpgp.NewEntity("gitopskit test", "", "test@gitopskit.dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Keys{Age: id, PGP: ent}
}

// AgeSecret is the data of a Flux decryption Secret with the age identity.
func (k *Keys) AgeSecret() map[string]string {
	return map[string]string{"identity.agekey": k.Age.String() + "\n"}
}

// PGPSecret is the data of a Flux decryption Secret with the armored
// OpenPGP private key.
func (k *Keys) PGPSecret(t testing.TB) map[string]string {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.PGP.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return map[string]string{"key.asc": b.String()}
}

// EncryptYAML encrypts the data and stringData of a YAML file for the age
// recipient and, with withPGP, the OpenPGP key too, the way
// "sops --encrypt --encrypted-regex '^(data|stringData)$'" does.
func (k *Keys) EncryptYAML(t testing.TB, plain string, withPGP bool) string {
	t.Helper()
	return k.encrypt(t, &sopsyaml.Store{}, plain, withPGP, "^(data|stringData)$")
}

// EncryptDotenv encrypts every value of a .env file for the age recipient,
// as "sops --encrypt x.env" does.
func (k *Keys) EncryptDotenv(t testing.TB, plain string) string {
	t.Helper()
	return k.encrypt(t, &dotenv.Store{}, plain, false, "")
}

// store is what encrypting uses of a sops store.
type store interface {
	LoadPlainFile([]byte) (sops.TreeBranches, error)
	EmitEncryptedFile(sops.Tree) ([]byte, error)
}

func (k *Keys) encrypt(t testing.TB, store store, plain string, withPGP bool, encryptedRegex string) string {
	t.Helper()
	branches, err := store.LoadPlainFile([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	ageKey, err := sopsage.MasterKeyFromRecipient(k.Age.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	group := sops.KeyGroup{ageKey}
	if withPGP {
		group = append(group, pgp.NewMasterKeyFromFingerprint(strings.ToUpper(hex.EncodeToString(k.PGP.PrimaryKey.Fingerprint))))
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{KeyGroups: []sops.KeyGroup{group}, EncryptedRegex: encryptedRegex, Version: "3.9.0"}}
	dataKey, errs := tree.GenerateDataKeyWithKeyServices([]keyservice.KeyServiceClient{encrypter{k}})
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC().Truncate(time.Second)
	if tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// encrypter is a key service that encrypts data keys for the test's keys.
type encrypter struct{ k *Keys }

func (e encrypter) Encrypt(_ context.Context, req *keyservice.EncryptRequest, _ ...grpc.CallOption) (*keyservice.EncryptResponse, error) {
	switch key := req.Key.GetKeyType().(type) {
	case *keyservice.Key_AgeKey:
		mk := &sopsage.MasterKey{Recipient: key.AgeKey.Recipient}
		if err := mk.Encrypt(req.Plaintext); err != nil {
			return nil, err
		}
		return &keyservice.EncryptResponse{Ciphertext: mk.EncryptedDataKey()}, nil
	case *keyservice.Key_PgpKey:
		var b bytes.Buffer
		aw, err := armor.Encode(&b, "PGP MESSAGE", nil)
		if err != nil {
			return nil, err
		}
		w, err := openpgp.Encrypt(aw, openpgp.EntityList{e.k.PGP}, nil, nil, nil)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(req.Plaintext); err != nil {
			return nil, err
		}
		w.Close()
		aw.Close()
		return &keyservice.EncryptResponse{Ciphertext: b.Bytes()}, nil
	}
	return nil, fmt.Errorf("no test key for %T", req.Key.GetKeyType())
}

func (encrypter) Decrypt(context.Context, *keyservice.DecryptRequest, ...grpc.CallOption) (*keyservice.DecryptResponse, error) {
	return nil, errors.New("the test key service only encrypts")
}
