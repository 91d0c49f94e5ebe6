package render

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/source"
)

func TestSpecOf(t *testing.T) {
	const ks = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n"
	const hr = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: db, namespace: data}\nspec:\n"
	ksRef := dag.ObjectRef{Group: KustomizeGroup, Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}
	hrRef := dag.ObjectRef{Group: HelmGroup, Kind: "HelmRelease", Namespace: "data", Name: "db"}
	tests := map[string]struct {
		obj     string
		want    Spec
		wantErr string
	}{
		"kustomization defaults": {
			obj:  ks + "  interval: 10m\n  prune: true\n",
			want: Spec{Links: dag.Links{Ref: ksRef}, Prune: true, Interval: 10 * time.Minute},
		},
		"prune false, wait, timeout, dependsOn": {
			obj: ks + "  interval: 1h\n  retryInterval: 1m\n  timeout: 5m\n  prune: false\n  wait: true\n  suspend: true\n" +
				"  serviceAccountName: apps\n  targetNamespace: web\n  dependsOn:\n  - name: infra\n  - {name: other, namespace: team}\n" +
				"  healthChecks:\n  - {apiVersion: apps/v1, kind: Deployment, name: web, namespace: web}\n",
			want: Spec{Suspended: true, Wait: true, Timeout: 5 * time.Minute, Interval: time.Hour, RetryInterval: time.Minute,
				ServiceAccountName: "apps", TargetNamespace: "web",
				Links: dag.Links{Ref: ksRef, AwaitChildren: true, DependsOn: []string{"Kustomization/flux-system/infra", "Kustomization/team/other"}}},
		},
		"health checks, a Flux one defaulting its namespace": {
			obj: ks + "  interval: 10m\n  prune: true\n  healthChecks:\n  - {apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, name: cert-manager}\n" +
				"  - {apiVersion: apps/v1, kind: Deployment, name: cert-manager, namespace: cert-manager}\n",
			want: Spec{Prune: true, Interval: 10 * time.Minute, Links: dag.Links{Ref: ksRef, HealthChecks: []dag.ObjectRef{
				{Group: HelmGroup, Kind: "HelmRelease", Namespace: "flux-system", Name: "cert-manager"},
				{Group: "apps", Kind: "Deployment", Namespace: "cert-manager", Name: "cert-manager"},
			}}},
		},
		"helm release waits": {
			obj:  hr + "  interval: 10m\n  install: {disableWait: true}\n",
			want: Spec{Links: dag.Links{Ref: hrRef}, Prune: true, Wait: true, Interval: 10 * time.Minute},
		},
		"helm release with waiting disabled": {
			obj:  hr + "  interval: 10m\n  timeout: 10m\n  install: {disableWait: true}\n  upgrade: {disableWait: true}\n  dependsOn: [{name: base}]\n",
			want: Spec{Prune: true, Interval: 10 * time.Minute, Timeout: 10 * time.Minute, Links: dag.Links{Ref: hrRef, DependsOn: []string{"HelmRelease/data/base"}}},
		},
		"a timeout that does not parse": {
			obj:     ks + "  interval: 10m\n  prune: true\n  timeout: 5x\n",
			wantErr: `spec: a duration does not parse: time: unknown unit "x" in duration "5x"`,
		},
		"a negative retry interval": {
			obj:     ks + "  interval: 10m\n  prune: true\n  retryInterval: -1m\n",
			wantErr: "spec.retryInterval: -1m0s is negative",
		},
		"wait as a string": {
			obj:     ks + "  interval: 10m\n  prune: true\n  wait: \"yes\"\n",
			wantErr: "spec: wait: string is not a bool",
		},
		"a health check with no kind": {
			obj:     ks + "  interval: 10m\n  prune: true\n  healthChecks: [{apiVersion: v1, name: x}]\n",
			wantErr: "spec.healthChecks[0]:",
		},
		"a dependsOn on itself": {
			obj:     ks + "  interval: 10m\n  prune: true\n  dependsOn: [{name: apps}]\n",
			wantErr: "spec.dependsOn[0] names the unit itself",
		},
		"a dependsOn with no name": {
			obj:     ks + "  interval: 10m\n  prune: true\n  dependsOn: [{namespace: x}]\n",
			wantErr: "spec.dependsOn[0]: name is required",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(tc.obj), &u.Object); err != nil {
				t.Fatal(err)
			}
			got, err := specOf(u)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadBadSpec: a Kustomization whose spec does not parse fails alone,
// naming itself and the field; what depends on it is blocked, the rest
// renders. Health checks and readiness reach dag through DagUnits.
func TestLoadBadSpec(t *testing.T) {
	art := repoArtifact(t, map[string]string{
		"root/units.yaml": strings.Replace(kustomizationYAML("bad", "./a"), "interval: 10m", "interval: 10m\n  timeout: soon", 1) + "---\n" +
			kustomizationYAML("after", "./a", "bad") + "---\n" +
			strings.Replace(kustomizationYAML("parent", "./a"), "interval: 10m", "interval: 10m\n  wait: true", 1),
		"a/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n",
	})
	g := loadRoot(t, art, LoadOptions{})
	bad := g.Unit("Kustomization/flux-system/bad")
	if bad.Err == nil || !strings.Contains(bad.Err.Error(), "Kustomization/flux-system/bad: spec: a duration does not parse") || len(bad.Objects) != 0 {
		t.Errorf("bad: %v, %d objects", bad.Err, len(bad.Objects))
	}
	if after := g.Unit("Kustomization/flux-system/after"); after.BlockedBy != bad.ID {
		t.Errorf("after: blocked by %q", after.BlockedBy)
	}
	parent := g.Unit("Kustomization/flux-system/parent")
	if parent.Err != nil || !parent.AwaitChildren || parent.Ref.Kind != "Kustomization" || parent.Parent != RootID {
		t.Errorf("parent: %v, links %+v", parent.Err, parent.Links)
	}
	dus, err := g.DagUnits()
	if err != nil {
		t.Fatal(err)
	}
	for _, du := range dus {
		if du.ID == parent.ID && !cmp.Equal(du.Links, parent.Links) {
			t.Errorf("dag unit of parent: %+v", du)
		}
	}
}

// TestLoadHonoursIgnoreRules: a file a .sourceignore leaves out is not
// rendered, even from a working tree where it is on disk.
func TestLoadHonoursIgnoreRules(t *testing.T) {
	art := repoArtifact(t, map[string]string{
		"root/cm.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: default}\n",
		"root/draft.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: draft, namespace: default}\n",
		"root/.sourceignore": "draft.yaml\n",
	})
	g := loadRoot(t, art, LoadOptions{})
	var names []string
	for _, o := range g.Unit(RootID).Objects {
		names = append(names, o.GetName())
	}
	if diff := cmp.Diff([]string{"kept"}, names); diff != "" {
		t.Errorf("rendered (-want +got):\n%s", diff)
	}
}

// TestLoadRefusesLocalGit: a GitRepository naming a local path or file://
// URL is refused, as Flux refuses it, unless the caller allows it; a
// mirror may point anywhere.
func TestLoadRefusesLocalGit(t *testing.T) {
	other := t.TempDir()
	art := repoArtifact(t, map[string]string{
		"root/git.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: other, namespace: flux-system}\nspec: {interval: 1h, url: \"file://" + other + "\", ref: {branch: main}}\n---\n" +
			strings.Replace(kustomizationYAML("from-other", "./"), "name: flux-system}", "name: other}", 1),
	})
	g := loadRoot(t, art, LoadOptions{})
	if err := g.Unit("Kustomization/flux-system/from-other").Err; err == nil || !strings.Contains(err.Error(), "is not an http, https or ssh URL") {
		t.Errorf("err = %v", err)
	}
	for url, want := range map[string]bool{"https://github.com/a/b": true, "HTTPS://github.com/a/b": true, "ssh://git@github.com/a/b": true,
		"git@github.com:a/b.git": true, "file:///srv/repo": false, "/srv/repo": false, "../repo": false} {
		if got := remoteGitURL(url); got != want {
			t.Errorf("remoteGitURL(%q) = %v", url, got)
		}
	}
}

// TestLoadStrictSubstitution: LoadOptions.StrictSubstitution reaches every
// Kustomization of a load: a ${var} with no value fails its unit, which
// renders it empty otherwise.
func TestLoadStrictSubstitution(t *testing.T) {
	art := repoArtifact(t, map[string]string{
		"root/app.yaml": strings.Replace(kustomizationYAML("app", "./app"), "prune: true", "prune: true\n  postBuild: {substitute: {known: x}}", 1),
		"app/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndata: {a: \"${unknown}\"}\n",
	})
	for _, strict := range []bool{false, true} {
		err := loadRoot(t, art, LoadOptions{StrictSubstitution: strict}).Unit("Kustomization/flux-system/app").Err
		if strict != (err != nil) || (strict && !strings.Contains(err.Error(), "variable unknown has no value")) {
			t.Errorf("strict %v: err = %v", strict, err)
		}
	}
}

// TestNoRemoteBases: a kustomization naming something outside the source
// fails its unit with no request made; allowed, kustomize fetches it.
func TestNoRemoteBases(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: remote, namespace: default}\n")
	}))
	t.Cleanup(srv.Close)
	art := repoArtifact(t, map[string]string{
		"root/app.yaml":               kustomizationYAML("app", "./app"),
		"app/kustomization.yaml":      "resources: [local.yaml, base]\n",
		"app/local.yaml":              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local, namespace: default}\n",
		"app/base/kustomization.yaml": "resources: [\"" + srv.URL + "/cm.yaml\"]\n",
	})
	g := loadRoot(t, art, LoadOptions{})
	if err := g.Unit("Kustomization/flux-system/app").Err; err == nil || !strings.Contains(err.Error(), `app/base/kustomization.yaml: "`+srv.URL+`/cm.yaml" is not a file or directory of the source; remote bases are not fetched`) {
		t.Errorf("err = %v", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests made", n)
	}
	g = loadRoot(t, art, LoadOptions{AllowRemoteBases: true})
	if u := g.Unit("Kustomization/flux-system/app"); u.Err != nil || len(u.Objects) != 2 || requests.Load() == 0 {
		t.Errorf("allowed: %v, %d objects, %d requests", u.Err, len(u.Objects), requests.Load())
	}
}

// repoArtifact writes files as a repository and fetches it as a working
// tree.
func repoArtifact(t *testing.T, files map[string]string) *source.Artifact {
	t.Helper()
	dir := t.TempDir()
	writeRepo(t, dir, files)
	art, err := source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return art
}

// loadRoot loads the artifact's "root" path offline.
func loadRoot(t *testing.T, art *source.Artifact, opts LoadOptions) *Graph {
	t.Helper()
	opts.CacheDir = t.TempDir()
	g, err := Load(context.Background(), art, "root", opts)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestRemoteBasesBounded: allowed, a remote base is cloned to the
// temporary directory and the clone is removed when the build ends,
// whether the build succeeds or fails; a remote resource whose server never
// answers fails the unit at RemoteBasesTimeout instead of hanging the load.
func TestRemoteBasesBounded(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	remote := gittest.NewRepo(t)
	remote.Commit("base", map[string]string{
		"base/kustomization.yaml": "resources: [cm.yaml]\n",
		"base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: remote, namespace: default}\n",
	})
	base := "git::file://" + remote.Dir + "//base?ref=main"
	art := repoArtifact(t, map[string]string{
		"root/units.yaml":            kustomizationYAML("good", "./good") + "---\n" + kustomizationYAML("missing", "./missing"),
		"good/kustomization.yaml":    "resources: [\"" + base + "\"]\n",
		"missing/kustomization.yaml": "resources: [\"" + base + "\", \"git::file://" + remote.Dir + "//nothing-here?ref=main\"]\n",
	})
	for range 2 {
		g := loadRoot(t, art, LoadOptions{AllowRemoteBases: true})
		if u := g.Unit("Kustomization/flux-system/good"); u.Err != nil || len(u.Objects) != 1 {
			t.Fatalf("good: %v, %d objects", u.Err, len(u.Objects))
		}
		if u := g.Unit("Kustomization/flux-system/missing"); u.Err == nil {
			t.Error("missing: rendered")
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "kustomize-*")); len(left) > 0 {
		t.Errorf("clones left behind: %v", left)
	}

	arrived, release := make(chan struct{}, 1), make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-release
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for the handler
	art = repoArtifact(t, map[string]string{
		"root/app.yaml":          kustomizationYAML("app", "./app"),
		"app/kustomization.yaml": "resources: [\"" + hang.URL + "/cm.yaml\"]\n",
	})
	g := loadRoot(t, art, LoadOptions{AllowRemoteBases: true, RemoteBasesTimeout: 300 * time.Millisecond})
	if err := g.Unit("Kustomization/flux-system/app").Err; err == nil || !strings.Contains(err.Error(), "fetching remote bases: gave up after 300ms") {
		t.Errorf("hanging remote: err = %v", err)
	}
	select {
	case <-arrived:
	default:
		t.Error("the remote resource was never requested")
	}
}

// TestLoadNoCrossNamespaceRefs: under LoadOptions.NoCrossNamespaceRefs (as
// Flux's --no-cross-namespace-refs) a unit whose sourceRef, chart
// sourceRef or dependsOn names another namespace fails, naming the
// reference; same-namespace references are fine. Without it all render.
func TestLoadNoCrossNamespaceRefs(t *testing.T) {
	team := func(name, extra string) string {
		return "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: " + name + ", namespace: team}\n" +
			"spec:\n  interval: 10m\n  path: ./app\n  prune: true\n" + extra
	}
	art := repoArtifact(t, map[string]string{
		"root/git.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: own, namespace: team}\nspec: {interval: 1h, url: 'https://example.com/repo', ref: {branch: main}}\n",
		"root/units.yaml": team("cross-source", "  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n") + "---\n" +
			team("cross-dependency", "  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n  dependsOn: [{name: app, namespace: flux-system}]\n") + "---\n" +
			"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: team}\nspec:\n  interval: 1h\n  chart: {spec: {chart: web, sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}}}\n" + "---\n" +
			kustomizationYAML("app", "./app"),
		"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: team}\n",
	})
	g := loadRoot(t, art, LoadOptions{NoCrossNamespaceRefs: true})
	for id, want := range map[string]string{
		"Kustomization/team/cross-source":     "spec.sourceRef names GitRepository flux-system/flux-system in another namespace; cross-namespace references are refused",
		"Kustomization/team/cross-dependency": "spec.dependsOn[0] names Kustomization flux-system/app in another namespace",
		"HelmRelease/team/web":                "spec.chart.spec.sourceRef names HelmRepository flux-system/charts in another namespace",
	} {
		if u := g.Unit(id); u == nil || u.Err == nil || !strings.Contains(u.Err.Error(), want) {
			t.Errorf("%s: %v, want %q", id, u, want)
		}
	}
	if u := g.Unit("Kustomization/flux-system/app"); u.Err != nil {
		t.Errorf("app: %v", u.Err)
	}
	g = loadRoot(t, art, LoadOptions{})
	if u := g.Unit("Kustomization/team/cross-source"); u.Err != nil {
		t.Errorf("without the lockdown: %v", u.Err)
	}
}

// TestLoadRefusesUnimplemented: a field gitopskit does not implement and
// that would change what is applied or where — kubeConfig (the wrong
// cluster), a source's verify — fails the unit, naming the field and the
// way to proceed; with LoadOptions.IgnoreUnimplemented it renders, with a
// warning.
func TestLoadRefusesUnimplemented(t *testing.T) {
	art := repoArtifact(t, map[string]string{
		"root/units.yaml": strings.Replace(kustomizationYAML("remote", "./app"), "prune: true", "prune: true\n  kubeConfig: {secretRef: {name: remote}}", 1) + "---\n" +
			strings.Replace(kustomizationYAML("verified", "./app"), "name: flux-system}", "name: signed}", 1) + "---\n" +
			"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: signed, namespace: flux-system}\nspec: {interval: 1h, url: 'https://example.com/repo', ref: {branch: main}, verify: {mode: HEAD, secretRef: {name: keys}}}\n",
		"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n",
	})
	g := loadRoot(t, art, LoadOptions{})
	for id, want := range map[string]string{
		"Kustomization/flux-system/remote":   "spec.kubeConfig is not implemented: the unit would be applied to the reconciler's cluster; refusing, as it would change what is applied (LoadOptions.IgnoreUnimplemented renders it anyway)",
		"Kustomization/flux-system/verified": "GitRepository flux-system/signed: spec.verify: signature verification is not implemented; refusing",
	} {
		if u := g.Unit(id); u == nil || u.Err == nil || !strings.Contains(u.Err.Error(), want) {
			t.Errorf("%s: %v, want %q", id, u, want)
		}
	}
	u := loadRoot(t, art, LoadOptions{IgnoreUnimplemented: true}).Unit("Kustomization/flux-system/remote")
	if u.Err != nil || len(u.Objects) != 1 || !slices.ContainsFunc(u.Warnings, func(w string) bool { return strings.Contains(w, "spec.kubeConfig") }) {
		t.Errorf("ignored: %v, %d objects, warnings %v", u.Err, len(u.Objects), u.Warnings)
	}
}

// TestLoadGitSecretRef: a GitRepository's secretRef gives the fetch its
// credentials — here an SSH key and known_hosts, from a Secret the caller
// (for a Reconciler, the cluster) holds — and a missing Secret fails the
// units of that source, naming it.
func TestLoadGitSecretRef(t *testing.T) {
	remote := gittest.NewRepo(t)
	remote.Commit("app", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: over-ssh, namespace: default}\n"})
	srv := gittest.ServeSSH(t, map[string]*gittest.Repo{"app": remote})
	repo := func(secret string) map[string]string {
		return map[string]string{"root/units.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: private, namespace: flux-system}\n" +
			"spec: {interval: 1h, url: '" + srv.URL("app") + "', ref: {branch: main}, secretRef: {name: " + secret + "}}\n---\n" +
			strings.Replace(kustomizationYAML("app", "./"), "name: flux-system}", "name: private}", 1)}
	}
	values := ValueMap{"Secret/flux-system/ssh-key": {"identity": string(srv.ClientKey), "known_hosts": string(srv.KnownHosts)}}
	u := loadRoot(t, repoArtifact(t, repo("ssh-key")), LoadOptions{Values: values}).Unit("Kustomization/flux-system/app")
	if u.Err != nil || len(u.Objects) != 1 || u.Objects[0].GetName() != "over-ssh" {
		t.Fatalf("over SSH: %v %v", u.Err, u.Objects)
	}
	u = loadRoot(t, repoArtifact(t, repo("absent")), LoadOptions{Values: values}).Unit("Kustomization/flux-system/app")
	if u.Err == nil || !strings.Contains(u.Err.Error(), "GitRepository flux-system/private: spec.secretRef: Secret flux-system/absent: not found") {
		t.Errorf("a missing Secret: %v", u.Err)
	}
}
