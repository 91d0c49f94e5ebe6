package gitopskit_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/fleet"
	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/internal/sopstest"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

// clusterSecrets makes the namespace ns and the Secrets in it (name →
// data), as something else than the repository would, and returns a
// client of the cluster.
func clusterSecrets(t *testing.T, env *testenv.Environment, ns string, secrets map[string]map[string]string) kubernetes.Interface {
	t.Helper()
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for name, data := range secrets {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	return cs
}

// TestCredentialsFromCluster: as Flux does, a Reconciler reads from the
// cluster what the repository only names — the secretRef of a private Git
// repository (basic auth over HTTP, and a key with known_hosts over SSH,
// in-process servers) and of a private Helm
// repository, and a valuesFrom Secret no unit renders — and reconciles
// with them; no password shows in any error, status or revision.
func TestCredentialsFromCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := testenv.Shared(t)
	const ns = "creds-test"
	const gitPass, helmPass = "g1t-s3cret-pass", "h3lm-s3cret-pass"

	app := gittest.NewRepo(t)
	app.Commit("app", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-private-git, namespace: " + ns + "}\ndata: {a: b}\n"})
	git := gittest.ServeHTTP(t, map[string]*gittest.Repo{"app": app}, false)
	git.Username, git.Password = "flux", gitPass
	overSSH := gittest.NewRepo(t)
	overSSH.Commit("app", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-ssh-git, namespace: " + ns + "}\ndata: {a: b}\n"})
	sshd := gittest.ServeSSH(t, map[string]*gittest.Repo{"app": overSSH})
	helm := helmtest.ServeRepo(t, []string{helmtest.SimpleChart(t, t.TempDir(), "hello", "1.0.0")}, false)
	helm.Username, helm.Password = "flux", helmPass

	cs := clusterSecrets(t, env, ns, map[string]map[string]string{
		"git-creds":  {"username": "flux", "password": gitPass},
		"ssh-creds":  {"identity": string(sshd.ClientKey), "known_hosts": string(sshd.KnownHosts)},
		"helm-creds": {"username": "flux", "password": helmPass},
		"web-values": {"values.yaml": "greeting: from-the-cluster\n"},
	})

	repo := t.TempDir()
	if err := fleet.Write(repo, map[string]string{
		"root/private.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: private, namespace: " + ns + "}\n" +
			"spec: {interval: 1h, url: '" + git.URL + "/app', ref: {branch: main}, secretRef: {name: git-creds}}\n---\n" +
			"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: " + ns + "}\n" +
			"spec: {interval: 1h, path: ./, prune: true, sourceRef: {kind: GitRepository, name: private}}\n",
		"root/ssh.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: private-ssh, namespace: " + ns + "}\n" +
			"spec: {interval: 1h, url: '" + sshd.URL("app") + "', ref: {branch: main}, secretRef: {name: ssh-creds}}\n---\n" +
			"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app-ssh, namespace: " + ns + "}\n" +
			"spec: {interval: 1h, path: ./, prune: true, sourceRef: {kind: GitRepository, name: private-ssh}}\n",
		"root/helm.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: charts, namespace: " + ns + "}\n" +
			"spec: {interval: 1h, url: '" + helm.URL + "', secretRef: {name: helm-creds}}\n---\n" +
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: " + ns + "}\n" +
			"spec:\n  interval: 1h\n  chart: {spec: {chart: hello, version: 1.x, sourceRef: {kind: HelmRepository, name: charts}}}\n  valuesFrom: [{kind: Secret, name: web-values}]\n",
	}); err != nil {
		t.Fatal(err)
	}
	r, err := gitopskit.New(gitopskit.Options{Name: "creds", Source: source.NewDir(repo, source.DirOptions{}), Path: "root",
		Config: env.Config, Load: render.LoadOptions{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Units {
		if u.Err != nil {
			t.Errorf("%s: %v", u.ID, u.Err)
		}
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "from-private-git", metav1.GetOptions{}); err != nil {
		t.Errorf("the private Git repository's object: %v", err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "from-ssh-git", metav1.GetOptions{}); err != nil {
		t.Errorf("the object of the Git repository over SSH: %v", err)
	}
	web, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || web.Data["greeting"] != "from-the-cluster" {
		t.Errorf("the private chart's object with the cluster's values: %v %v", web, err)
	}
	for _, s := range r.Status() {
		for _, pass := range []string{gitPass, helmPass} {
			if strings.Contains(s.Message+s.Revision, pass) {
				t.Errorf("%s shows a password: %+v", s.ID, s)
			}
		}
	}
}

// TestSOPSFromCluster: a SOPS-encrypted Secret is decrypted with the age
// key of the decryption Secret in the cluster and applied; its plaintext
// is in no plan, event, status or inventory.
func TestSOPSFromCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := testenv.Shared(t)
	const ns = "sops-test"
	const password = "cl0ud-s3cret-plaintext"
	keys := sopstest.NewKeys(t)
	cs := clusterSecrets(t, env, ns, map[string]map[string]string{"sops-age": keys.AgeSecret()})
	repo := t.TempDir()
	if err := fleet.Write(repo, map[string]string{
		"root/app.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: " + ns + "}\n" +
			"spec: {interval: 1h, path: ./app, prune: true, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}, decryption: {provider: sops, secretRef: {name: sops-age}}}\n",
		"app/secret.yaml": keys.EncryptYAML(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: "+ns+"}\nstringData: {password: "+password+"}\n", false),
	}); err != nil {
		t.Fatal(err)
	}
	var printed strings.Builder
	r, err := gitopskit.New(gitopskit.Options{Name: "sops", Source: source.NewDir(repo, source.DirOptions{}), Path: "root", Config: env.Config,
		Load:  render.LoadOptions{CacheDir: t.TempDir()},
		Apply: apply.Options{Events: func(e apply.Event) { printed.WriteString(e.String() + "\n") }}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := r.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	printed.WriteString(plan.String())
	res, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range res.Units {
		if u.Err != nil {
			t.Errorf("%s: %v", u.ID, u.Err)
		}
	}
	s, err := cs.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil || string(s.Data["password"]) != password {
		t.Fatalf("the applied Secret: %v %v", s, err)
	}
	for _, st := range r.Status() {
		printed.WriteString(st.Message + st.Revision + "\n")
	}
	invs, err := cs.CoreV1().ConfigMaps(gitopskit.DefaultNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range invs.Items {
		for k, v := range cm.Data {
			printed.WriteString(k + v + "\n")
		}
	}
	if out := printed.String(); strings.Contains(out, password) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte(password))) {
		t.Errorf("the plaintext shows in a plan, event, status or inventory:\n%s", out)
	}
}
