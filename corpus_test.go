package gitopskit_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit"
	"github.com/gitopskit/gitopskit/apply"
	"github.com/gitopskit/gitopskit/internal/corpus"
	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

// TestCorpusReconcile reconciles clusters/staging of Flux's official
// example, committed to a real Git repository, into the real control plane:
// every unit Ready; the ClusterIssuer, GatewayClass and Gateway applied
// only once cert-manager's and Envoy Gateway's releases (and so their
// CRDs) are ready; podinfo's HTTPRoute after Envoy Gateway's; and an
// unchanged second reconcile makes no write request.
func TestCorpusReconcile(t *testing.T) {
	repo := corpus.FluxExample(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := testenv.Shared(t)
	env.RunWorkloads(t)

	git := gittest.NewRepo(t)
	files := map[string]string{}
	if err := readTree(repo.Tree(), files); err != nil {
		t.Fatal(err)
	}
	git.Commit("flux2-kustomize-helm-example", files)

	cfg, counter := testenv.CountWrites(env.Config)
	evs := &events{}
	r, err := gitopskit.New(gitopskit.Options{
		Name:   "corpus",
		Source: source.NewGit(git.Dir, source.GitOptions{CacheDir: t.TempDir()}),
		Path:   "clusters/staging",
		Config: cfg,
		Load:   render.LoadOptions{Mirrors: repo.Mirrors, CacheDir: t.TempDir()},
		Apply:  apply.Options{Events: evs.add},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Status() {
		if s.Ready != gitopskit.ReadyTrue {
			t.Errorf("%s: %s: %s", s.ID, s.Ready, s.Message)
		}
	}
	if len(r.Status()) != 7 {
		t.Errorf("%d units, want 7:\n%s", len(r.Status()), r.Status())
	}
	all := evs.take()
	applied := func(object string) int {
		i := -1
		for j, e := range all {
			if e.Type == apply.ObjectApplied && e.Object.String() == object {
				i = j
			}
		}
		if i < 0 {
			t.Errorf("%s was not applied", object)
		}
		return i
	}
	ready := func(unit string) int {
		i := index(all, apply.UnitReady, unit)
		if i < 0 {
			t.Errorf("%s never ready", unit)
		}
		return i
	}
	const (
		certManager = "HelmRelease/cert-manager/cert-manager"
		envoy       = "HelmRelease/envoy-gateway-system/envoy-gateway"
	)
	for object, after := range map[string]string{
		"ClusterIssuer.cert-manager.io/letsencrypt":                                  certManager,
		"GatewayClass.gateway.networking.k8s.io/envoy":                               envoy,
		"Gateway.gateway.networking.k8s.io/envoy-gateway-system/envoy":               envoy,
		"HTTPRoute.gateway.networking.k8s.io/podinfo/podinfo":                        envoy,
		"CustomResourceDefinition.apiextensions.k8s.io/certificates.cert-manager.io": "",
	} {
		if after == "" {
			applied(object)
			continue
		}
		if applied(object) < ready(after) {
			t.Errorf("%s was applied before %s was ready", object, after)
		}
	}

	counter.Take()
	res, err = r.Reconcile(ctx)
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if w := counter.Take(); len(w) != 0 {
		t.Errorf("the unchanged reconcile made %d write requests: %s", len(w), strings.Join(w[:min(len(w), 5)], "; "))
	}
	// No Teardown: on this control plane, whose Namespaces never finish
	// terminating, deleting a namespaced CRD takes about five minutes.
	// Nothing here is shared with the other tests.
}

// readTree reads every file below dir into files, by slash path.
func readTree(dir string, files map[string]string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
}
