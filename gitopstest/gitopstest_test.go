package gitopstest_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/gitopstest"
	"github.com/gitopskit/gitopskit/internal/corpus"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

// recorder is a testing.TB that keeps what the checks report instead of
// failing the test, so the reports themselves can be checked.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// run calls check with a recorder in a goroutine of its own (so a Fatalf
// ends only it) and returns what it reported.
func run(t *testing.T, check func(testing.TB)) []string {
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(rec)
	}()
	<-done
	return rec.errors
}

func fleet(t *testing.T) gitopstest.Options {
	charts, err := filepath.Abs("../internal/fleet/charts")
	if err != nil {
		t.Fatal(err)
	}
	return gitopstest.Options{Dir: "../internal/fleet/repo", Path: "clusters/dev",
		Mirrors: source.Mirrors{"https://charts.example.com": "file://" + charts}}
}

// TestFleet: the example fleet passes every check, each alone in a
// parallel subtest sharing one Repo, and all together.
func TestFleet(t *testing.T) {
	repo := gitopstest.Load(t, fleet(t))
	if len(repo.Graph.Units) != 6 {
		t.Fatalf("%d units, want the fleet's 6", len(repo.Graph.Units))
	}
	checks := map[string]func(testing.TB){
		"renders":    repo.CheckRenders,
		"cycles":     repo.CheckNoCycles,
		"crds":       repo.CheckCRDs,
		"shared":     repo.CheckNoSharedObjects,
		"references": repo.CheckReferences,
		"all":        func(tb testing.TB) { repo.CheckAll(tb) },
	}
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := run(t, check); len(got) != 0 {
				t.Errorf("reported on a fleet with no mistakes:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

// TestMistakes: each check finds its kind of mistake in a repository
// full of them, and says which unit (and the file defining it), which
// object (and the file it comes from) and how to proceed.
func TestMistakes(t *testing.T) {
	load := func(t *testing.T, opts gitopstest.Options) *gitopstest.Repo {
		opts.Dir, opts.Path = "testdata/mistakes", "clusters/dev"
		return gitopstest.Load(t, opts)
	}
	noLatest := func(u *render.Unit, o render.Object) error {
		if img, _, _ := unstructuredString(o, "data", "image"); strings.HasSuffix(img, ":latest") {
			return errors.New("image tag latest")
		}
		return nil
	}
	tests := map[string]struct {
		opts  gitopstest.Options
		check func(r *gitopstest.Repo) func(testing.TB)
		want  []string
	}{
		"renders": {
			check: func(r *gitopstest.Repo) func(testing.TB) { return r.CheckRenders },
			want: []string{
				"Kustomization/flux-system/c (clusters/dev/other.yaml): does not render: sourceRef GitRepository/flux-system/elsewhere: no such source in the repository",
				"Kustomization/flux-system/w (clusters/dev/other.yaml): warning: kustomization: 'bases' is deprecated. Please use 'resources' instead. Run 'kustomize edit fix' to update your Kustomization automatically. (allow it with Options.AllowWarnings if it is expected)",
			},
		},
		"renders, warning allowed": {
			opts:  gitopstest.Options{AllowWarnings: []string{"'bases' is deprecated"}},
			check: func(r *gitopstest.Repo) func(testing.TB) { return r.CheckRenders },
			want:  []string{"Kustomization/flux-system/c (clusters/dev/other.yaml): does not render: sourceRef GitRepository/flux-system/elsewhere: no such source in the repository"},
		},
		"cycles": {
			check: func(r *gitopstest.Repo) func(testing.TB) { return r.CheckNoCycles },
			want: []string{"Kustomization/flux-system/a (clusters/dev/units.yaml): dependency cycle through 2 nodes: Kustomization/flux-system/a -> Kustomization/flux-system/b -> Kustomization/flux-system/a; " +
				"Kustomization/flux-system/b depends on Kustomization/flux-system/a (dependsOn); Kustomization/flux-system/a depends on Kustomization/flux-system/b (dependsOn)"},
		},
		"crds": {
			check: func(r *gitopstest.Repo) func(testing.TB) { return r.CheckCRDs },
			want:  []string{"Kustomization/flux-system/b (clusters/dev/units.yaml): ClusterIssuer.cert-manager.io/letsencrypt (b/cm.yaml): no unit produces the CRD of ClusterIssuer.cert-manager.io and it is not pre-installed"},
		},
		"crds, preinstalled": {
			opts:  gitopstest.Options{Preinstalled: []dag.GroupKind{{Group: "cert-manager.io", Kind: "ClusterIssuer"}}},
			check: func(r *gitopstest.Repo) func(testing.TB) { return r.CheckCRDs },
		},
		"shared": {
			check: func(r *gitopstest.Repo) func(testing.TB) { return r.CheckNoSharedObjects },
			want: []string{"ConfigMap/team/shared is rendered differently (each reconcile would change it back and forth) by 2 units: " +
				"Kustomization/flux-system/a (clusters/dev/units.yaml) from a/cm.yaml; Kustomization/flux-system/b (clusters/dev/units.yaml) from b/cm.yaml (allow it with Options.AllowShared)"},
		},
		"shared, strictly": {
			opts:  gitopstest.Options{StrictSharing: true, AllowShared: []string{"ConfigMap/team/shared"}},
			check: func(r *gitopstest.Repo) func(testing.TB) { return r.CheckNoSharedObjects },
			want: []string{
				"Namespace/team is rendered the same by 2 units: Kustomization/flux-system/a (clusters/dev/units.yaml) from a/cm.yaml; Kustomization/flux-system/b (clusters/dev/units.yaml) from b/cm.yaml (allow it with Options.AllowShared)",
				"ConfigMap/default/settings is rendered the same by 2 units: Kustomization/flux-system/d (clusters/dev/other.yaml) from c/cm.yaml; Kustomization/flux-system/e (clusters/dev/other.yaml) from c/cm.yaml (allow it with Options.AllowShared)",
			},
		},
		"references": {
			check: func(r *gitopstest.Repo) func(testing.TB) { return r.CheckReferences },
			want: []string{
				`Kustomization/flux-system/b (clusters/dev/units.yaml): dependsOn "Kustomization/flux-system/gone", which is not a unit`,
				"Kustomization/flux-system/d (clusters/dev/other.yaml): healthChecks names an object no unit renders; it must already be in the cluster",
				"Kustomization/flux-system/c (clusters/dev/other.yaml): sourceRef GitRepository/flux-system/elsewhere: no such source in the repository",
			},
		},
		"policy": {
			check: func(r *gitopstest.Repo) func(testing.TB) {
				return func(tb testing.TB) { r.CheckPolicy(tb, noLatest) }
			},
			want: []string{
				"Kustomization/flux-system/d (clusters/dev/other.yaml): ConfigMap/default/settings (c/cm.yaml): image tag latest",
				"Kustomization/flux-system/e (clusters/dev/other.yaml): ConfigMap/default/settings (c/cm.yaml): image tag latest",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := run(t, tc.check(load(t, tc.opts)))
			slices.Sort(got)
			slices.Sort(tc.want)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("reports (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("all", func(t *testing.T) {
		got := run(t, func(tb testing.TB) { load(t, gitopstest.Options{}).CheckAll(tb, noLatest) })
		if len(got) != 10 {
			t.Errorf("CheckAll reported %d, want every finding of the checks above (10):\n%s", len(got), strings.Join(got, "\n"))
		}
	})
}

func unstructuredString(o render.Object, fields ...string) (string, bool, error) {
	m := o.Object
	for _, f := range fields[:len(fields)-1] {
		next, ok := m[f].(map[string]any)
		if !ok {
			return "", false, nil
		}
		m = next
	}
	s, ok := m[fields[len(fields)-1]].(string)
	return s, ok, nil
}

// TestGolden: -update writes one file per unit (Secrets masked); an
// unchanged render then passes; a changed file, a missing one and one of a
// unit that is gone are each reported, naming the file and how to
// refresh; -update removes the stale file.
func TestGolden(t *testing.T) {
	repo := gitopstest.Load(t, fleet(t))
	dir := filepath.Join(t.TempDir(), "golden")
	if got := run(t, func(tb testing.TB) { repo.Golden(tb, dir, true) }); len(got) != 0 {
		t.Fatalf("update: %v", got)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) != len(repo.Graph.Units) {
		t.Fatalf("%d golden files for %d units", len(files), len(repo.Graph.Units))
	}
	if got := run(t, func(tb testing.TB) { repo.Golden(tb, dir, false) }); len(got) != 0 {
		t.Fatalf("unchanged: %v", got)
	}

	app := filepath.Join(dir, gitopstest.GoldenFile("Kustomization/flux-system/application"))
	b, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app, []byte(strings.Replace(string(b), "kind: ConfigMap", "kind: ConfigMaps", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, gitopstest.GoldenFile("HelmRelease/database/postgresql")))
	stale := filepath.Join(dir, "Kustomization_flux-system_old.yaml")
	if err := os.WriteFile(stale, []byte("---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(run(t, func(tb testing.TB) { repo.Golden(tb, dir, false) }), "\n")
	for _, want := range []string{
		"Kustomization/flux-system/application (clusters/dev/application.yaml): differs from " + app + " (-golden +rendered; run go test with -update if this is meant)",
		`"kind: ConfigMaps"`, `"kind: ConfigMap"`,
		"HelmRelease/database/postgresql (infrastructure/postgresql.yaml): no golden file",
		stale + ": no unit renders it any more (run go test with -update to remove it)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("reports lack %q:\n%s", want, got)
		}
	}
	run(t, func(tb testing.TB) { repo.Golden(tb, dir, true) })
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("update kept the stale file: %v", err)
	}
	if got := run(t, func(tb testing.TB) { repo.Golden(tb, dir, false) }); len(got) != 0 {
		t.Errorf("after update: %v", got)
	}
}

// TestSecretsMasked: a Secret's values never reach a golden file.
func TestSecretsMasked(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"clusters/dev/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: default}\nstringData: {password: hunter2-very-secret}\n",
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo := gitopstest.Load(t, gitopstest.Options{Dir: dir, Path: "clusters/dev"})
	golden := filepath.Join(t.TempDir(), "golden")
	repo.Golden(t, golden, true)
	b, err := os.ReadFile(filepath.Join(golden, gitopstest.GoldenFile(render.RootID)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), "name: creds") {
		t.Errorf("golden file of a Secret:\n%s", b)
	}
}

// TestCorpus: both cluster paths of the real repositories in the corpus
// pass every check offline.
func TestCorpus(t *testing.T) {
	repo := corpus.FluxExample(t)
	for path := range repo.Expected.Clusters {
		t.Run(path, func(t *testing.T) {
			r := gitopstest.Load(t, gitopstest.Options{Dir: repo.Tree(), Path: path, Mirrors: repo.Mirrors,
				Load: render.LoadOptions{CacheDir: t.TempDir()}})
			if len(r.Graph.Units) < 4 {
				t.Fatalf("%d units", len(r.Graph.Units))
			}
			r.CheckAll(t)
		})
	}
}
