package source_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/internal/helmtest"
	"github.com/gitopskit/gitopskit/internal/testfs"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/sourcetest"
)

// tree is a repository with files its ignore rules leave out: by the
// default rules (.github/, *.png), by a .sourceignore, and by spec.ignore.
var tree = map[string]string{
	"apps/cm.yaml":                      "kind: ConfigMap\n",
	"apps/secret.draft.yaml":            "kind: Secret\n",
	"apps/.sourceignore":                "*.draft.yaml\n",
	"apps/logo.png":                     "png",
	".github/workflows/x.yml":           "on: push\n",
	"charts/app/Chart.yaml":             "apiVersion: v2\nname: app\nversion: 0.1.0\n",
	"charts/app/templates/cm.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n",
	"charts/app/templates/x.draft.yaml": "not for rendering",
	"charts/app/.sourceignore":          "*.draft.yaml\n",
}

var kept = sourcetest.Expect{
	Files:  map[string]string{"apps/cm.yaml": "kind: ConfigMap\n", "charts/app/Chart.yaml": "", "apps/.sourceignore": ""},
	Absent: []string{"apps/secret.draft.yaml", "apps/logo.png", ".github/workflows/x.yml", "charts/app/templates/x.draft.yaml"},
}

// TestConformance runs the source conformance suite against every source
// gitopskit has.
func TestConformance(t *testing.T) {
	ctx := context.Background()
	t.Run("Dir", func(t *testing.T) {
		dir := t.TempDir()
		testfs.Write(t, dir, tree)
		sourcetest.Run(t, source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()}), kept)
	})
	t.Run("Dir with spec.ignore", func(t *testing.T) {
		dir := t.TempDir()
		testfs.Write(t, dir, tree)
		sourcetest.Run(t, source.NewDir(dir, source.DirOptions{Ignore: "/charts/\n", CacheDir: t.TempDir()}), sourcetest.Expect{
			Files:  map[string]string{"apps/cm.yaml": "", "apps/logo.png": "png"},
			Absent: []string{"charts/app/Chart.yaml", "apps/secret.draft.yaml"},
		})
	})
	t.Run("Git", func(t *testing.T) {
		r := gittest.NewRepo(t)
		r.Commit("tree", tree)
		sourcetest.Run(t, source.NewGit(r.Dir, source.GitOptions{CacheDir: t.TempDir()}), kept)
	})
	t.Run("OCI artifact", func(t *testing.T) {
		reg := helmtest.ServeRegistry(t, "", "")
		reg.PushArtifact(t, "manifests/app", "v1.0.0", source.FluxContentType, map[string]string{"cm.yaml": "kind: ConfigMap\n"})
		sourcetest.Run(t, source.NewOCI("oci://"+reg.Host+"/manifests/app", source.OCIOptions{Ref: source.OCIRef{Tag: "v1.0.0"}, Auth: source.HelmAuth{PlainHTTP: true}, CacheDir: t.TempDir()}),
			sourcetest.Expect{Files: map[string]string{"cm.yaml": "kind: ConfigMap\n"}})
	})
	chartFiles := sourcetest.Expect{Files: map[string]string{"Chart.yaml": "", "templates/configmap.yaml": ""}}
	t.Run("Helm chart over HTTP", func(t *testing.T) {
		out := t.TempDir()
		repo := helmtest.ServeRepo(t, []string{helmtest.SimpleChart(t, out, "podinfo", "1.0.0")}, false)
		sourcetest.Run(t, source.NewHelmChart(repo.URL, "podinfo", "1.x", source.HelmOptions{CacheDir: t.TempDir()}), chartFiles)
	})
	t.Run("Helm chart over OCI", func(t *testing.T) {
		reg := helmtest.ServeRegistry(t, "", "")
		reg.Push(t, helmtest.SimpleChart(t, t.TempDir(), "podinfo", "1.0.0"), "charts")
		sourcetest.Run(t, source.NewHelmChart("oci://"+reg.Host+"/charts", "podinfo", "", source.HelmOptions{Auth: source.HelmAuth{PlainHTTP: true}, CacheDir: t.TempDir()}), chartFiles)
	})
	t.Run("chart in a working tree", func(t *testing.T) {
		dir := t.TempDir()
		testfs.Write(t, dir, tree)
		art, err := source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()}).Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sourcetest.Run(t, source.NewLocalChart(art, "charts/app", source.ChartOptions{Helm: source.HelmOptions{CacheDir: t.TempDir()}}),
			sourcetest.Expect{Files: map[string]string{"Chart.yaml": "", "templates/cm.yaml": ""}, Absent: []string{"templates/x.draft.yaml"}})
	})
	t.Run("Generated", func(t *testing.T) {
		dir := t.TempDir()
		testfs.Write(t, dir, tree)
		in := source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()})
		sourcetest.Run(t, source.NewGenerated(map[string]source.Source{"repo": in}, []source.CopyOp{{From: "@repo/apps/**", To: "@artifact/"}}, source.GeneratedOptions{Name: "g", CacheDir: t.TempDir()}),
			sourcetest.Expect{Files: map[string]string{"cm.yaml": "kind: ConfigMap\n"}, Absent: []string{"secret.draft.yaml", "logo.png"}})
	})
}

// TestDirDigestFollowsWhatIsKept: editing an ignored file changes neither
// the digest nor the snapshot; editing a kept one changes both, and the
// earlier artifact still holds what it had.
func TestDirDigestFollowsWhatIsKept(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	testfs.Write(t, dir, tree)
	src := source.NewDir(dir, source.DirOptions{CacheDir: t.TempDir()})
	first, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "apps", "secret.draft.yaml"), []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.Digest != first.Digest || second.Path != first.Path {
		t.Errorf("an ignored file changed the artifact: %s %s", first.Digest, second.Digest)
	}
	if err := os.WriteFile(filepath.Join(dir, "apps", "cm.yaml"), []byte("kind: ConfigMap # edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	third, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if third.Digest == first.Digest || third.Path == first.Path {
		t.Error("a kept file's edit did not change the artifact")
	}
	if b, err := os.ReadFile(filepath.Join(first.Path, "apps", "cm.yaml")); err != nil || string(b) != "kind: ConfigMap\n" {
		t.Errorf("the first snapshot changed: %q %v", b, err)
	}
}
