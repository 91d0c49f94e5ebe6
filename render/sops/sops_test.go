package sops_test

import (
	"bytes"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/sopstest"
	"github.com/gitopskit/gitopskit/internal/testfs"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/render/sops"
	"github.com/gitopskit/gitopskit/source"
)

// kustomization is a Flux Kustomization of the flux-system source.
func kustomization(name, path string) string {
	return "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: " + name + "\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: " + path + "\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
}

// artifact writes files as a working tree and fetches it.
func artifact(t *testing.T, files map[string]string) *source.Artifact {
	t.Helper()
	dir := t.TempDir()
	testfs.Write(t, dir, files)
	art, err := source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()}).Fetch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return art
}

// TestLoadSOPS: a Kustomization with spec.decryption renders its
// SOPS-encrypted Secrets decrypted — with an age identity or an OpenPGP key
// from the Secret its secretRef names, or the caller's keys — and the
// plaintext is in no file the load writes. Without a key that opens it,
// without spec.decryption, or with the file changed after encryption (the
// MAC), the unit fails: ciphertext is never rendered for applying.
func TestLoadSOPS(t *testing.T) {
	keys, other := sopstest.NewKeys(t), sopstest.NewKeys(t)
	const password = "pl41ntext-passw0rd"
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: default\nstringData:\n  password: " + password + "\n"
	ageOnly := keys.EncryptYAML(t, secret, false)
	both := keys.EncryptYAML(t, secret, true)
	if strings.Contains(ageOnly, password) {
		t.Fatal("the test's encryption left the plaintext")
	}
	ks := func(name, path, secretName string) string {
		s := kustomization(name, path)
		if secretName != "" {
			s = strings.Replace(s, "prune: true", "prune: true\n  decryption: {provider: sops, secretRef: {name: "+secretName+"}}", 1)
		}
		return s
	}
	art := artifact(t, map[string]string{
		"root/units.yaml": ks("age", "./age", "sops-age") + "---\n" + ks("pgp", "./pgp", "sops-pgp") + "---\n" + ks("wrong-key", "./age", "sops-other") + "---\n" +
			ks("no-decryption", "./age", "") + "---\n" + ks("tampered", "./tampered", "sops-age") + "---\n" + ks("no-secret", "./age", "missing") + "---\n" +
			ks("generated", "./generated", "sops-age") + "---\n" + ks("generator", "./generated2", "sops-age"),
		"age/secret.yaml":      ageOnly,
		"pgp/secret.yaml":      both,
		"tampered/secret.yaml": strings.Replace(ageOnly, "name: db", "name: db2", 1),
		"generated/kustomization.yaml": "secretGenerator:\n- name: app-env\n  namespace: default\n  envs: [app.env]\n- name: app-file\n  namespace: default\n  files: [token=token.env]\n" +
			"configMapGenerator:\n- name: leak\n  namespace: default\n  envs: [leak.env]\n",
		"generated/app.env":             keys.EncryptDotenv(t, "PASSWORD="+password+"\n"),
		"generated/token.env":           keys.EncryptDotenv(t, "TOKEN="+password+"\n"),
		"generated/leak.env":            keys.EncryptDotenv(t, "PASSWORD="+password+"\n"),
		"generated2/kustomization.yaml": "secretGenerator:\n- name: app-env\n  namespace: default\n  envs: [app.env]\n",
		"generated2/app.env":            keys.EncryptDotenv(t, "PASSWORD="+password+"\n"),
	})
	cache := t.TempDir()
	values := render.ValueMap{
		"Secret/flux-system/sops-age":   keys.AgeSecret(),
		"Secret/flux-system/sops-pgp":   keys.PGPSecret(t),
		"Secret/flux-system/sops-other": other.AgeSecret(),
	}
	g, err := render.Load(t.Context(), art, "root", render.LoadOptions{CacheDir: cache, Values: values, Decryptor: sops.Decryptor{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{"age", "pgp"} {
		u := g.Unit("Kustomization/flux-system/" + unit)
		if u.Err != nil || len(u.Objects) != 1 {
			t.Fatalf("%s: %v, %d objects", unit, u.Err, len(u.Objects))
		}
		data := u.Objects[0].Object["stringData"].(map[string]any)
		if data["password"] != password || u.Objects[0].Object["sops"] != nil {
			t.Errorf("%s: not decrypted: %v", unit, u.Objects[0].Object)
		}
	}
	for unit, want := range map[string]string{
		"wrong-key":     "age/secret.yaml: SOPS: cannot decrypt",
		"no-decryption": "age/secret.yaml: is SOPS-encrypted and the Kustomization has no spec.decryption: refusing to apply ciphertext",
		"tampered":      "tampered/secret.yaml: SOPS: cannot decrypt: the MAC does not match",
		"no-secret":     "spec.decryption.secretRef: Secret flux-system/missing: not found",
		"generated":     "generated/leak.env: SOPS: ",
	} {
		u := g.Unit("Kustomization/flux-system/" + unit)
		if u.Err == nil || !strings.Contains(u.Err.Error(), want) || len(u.Objects) != 0 {
			t.Errorf("%s: %v, want %q", unit, u.Err, want)
		}
		if u.Err != nil && strings.Contains(u.Err.Error(), password) {
			t.Errorf("%s: the error shows the plaintext", unit)
		}
	}
	// A secretGenerator's encrypted env file is decrypted in its own
	// format (a configMapGenerator's is not: above, it fails its unit).
	gen := g.Unit("Kustomization/flux-system/generator")
	if gen.Err != nil || len(gen.Objects) != 1 {
		t.Fatalf("generator: %v, %v", gen.Err, gen.Objects)
	}
	if got, _ := gen.Objects[0].Object["data"].(map[string]any)["PASSWORD"].(string); got != base64.StdEncoding.EncodeToString([]byte(password)) {
		t.Errorf("generator: the Secret holds %q", got)
	}
	// The caller's keys, offline, with no Secret to read.
	g, err = render.Load(t.Context(), art, "root", render.LoadOptions{CacheDir: cache, DecryptionKeys: map[string][]byte{"mine.agekey": []byte(keys.Age.String())}, Decryptor: sops.Decryptor{}})
	if err != nil {
		t.Fatal(err)
	}
	if u := g.Unit("Kustomization/flux-system/age"); u.Err != nil || len(u.Objects) != 1 {
		t.Errorf("with the caller's keys: %v", u.Err)
	}
	assertNotOnDisk(t, password, cache, filepath.Dir(art.Path))

	// Without a Decryptor, a unit with spec.decryption says what is missing.
	g, err = render.Load(t.Context(), art, "root", render.LoadOptions{CacheDir: t.TempDir(), Values: values})
	if err != nil {
		t.Fatal(err)
	}
	if u := g.Unit("Kustomization/flux-system/age"); u.Err == nil || !strings.Contains(u.Err.Error(), "set LoadOptions.Decryptor") {
		t.Errorf("no decryptor: %v", u.Err)
	}
}

// assertNotOnDisk fails if any file under the directories holds secret, as
// written or base64-encoded.
func assertNotOnDisk(t *testing.T, secret string, dirs ...string) {
	t.Helper()
	needles := [][]byte{[]byte(secret), []byte(base64.StdEncoding.EncodeToString([]byte(secret)))}
	for _, dir := range dirs {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for _, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s holds the plaintext", p)
				}
			}
			return nil
		})
	}
}
