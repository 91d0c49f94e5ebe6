package source

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/internal/helmtest"
)

func TestLocalChartDependencies(t *testing.T) {
	repo := helmtest.ServeRepo(t, chartArchives(t, "podinfo", "1.0.0", "1.1.0"), false)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"charts/app/Chart.yaml": `apiVersion: v2
name: app
version: 0.3.0
dependencies:
- name: common
  version: 0.1.0
  repository: file://../common
- name: podinfo
  version: ^1.0.0
  repository: https://charts.example.invalid
- name: vendored
  version: 2.0.0
`,
		"charts/app/Chart.lock": `dependencies:
- name: podinfo
  repository: https://charts.example.invalid
  version: 1.0.0
digest: sha256:0
generated: "2026-01-01T00:00:00Z"
`,
		"charts/app/templates/cm.yaml":          "kind: ConfigMap\n",
		"charts/app/charts/vendored/Chart.yaml": "apiVersion: v2\nname: vendored\nversion: 2.0.0\n",
		"charts/common/Chart.yaml":              "apiVersion: v2\nname: common\nversion: 0.1.0\ntype: library\n",
		"charts/common/templates/_helpers.tpl":  "{{- define \"common.name\" -}}x{{- end -}}\n",
	})
	src, err := NewDir(dir, DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	opts := ChartOptions{Helm: HelmOptions{CacheDir: t.TempDir()}, Mirrors: Mirrors{"https://charts.example.invalid": repo.URL}}
	a, err := NewLocalChart(src, "./charts/app", opts).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.Revision != "0.3.0" || !strings.HasSuffix(a.URL, "#charts/app") {
		t.Errorf("artifact %+v", a)
	}
	ch, err := loader.LoadDir(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range ch.Dependencies() {
		got[d.Name()] = d.Metadata.Version
	}
	want := map[string]string{"common": "0.1.0", "podinfo": "1.0.0", "vendored": "2.0.0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dependencies (-want +got):\n%s", diff)
	}
	again, err := NewLocalChart(src, "charts/app", opts).Fetch(context.Background())
	if err != nil || again.Path != a.Path || again.Digest != a.Digest {
		t.Errorf("second fetch: %v %+v", err, again)
	}
	// No dependency to add: the chart is served from the source itself.
	common, err := NewLocalChart(src, "charts/common", opts).Fetch(context.Background())
	if err != nil || common.Revision != "0.1.0" || readFS(t, common.FS, "templates/_helpers.tpl") == "" {
		t.Fatalf("library chart: %v %+v", err, common)
	}
}

func TestLocalChartFromGit(t *testing.T) {
	r := gittest.NewRepo(t)
	r.Commit("chart", map[string]string{
		"charts/web/Chart.yaml":         "apiVersion: v2\nname: web\nversion: 1.2.3\n",
		"charts/web/templates/svc.yaml": "kind: Service\n",
	})
	src, err := NewGit(r.Dir, GitOptions{CacheDir: t.TempDir()}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewLocalChart(src, "charts/web", ChartOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.Revision != "1.2.3" || readFS(t, a.FS, "templates/svc.yaml") != "kind: Service\n" {
		t.Errorf("artifact %+v", a)
	}
}

func TestLocalChartErrors(t *testing.T) {
	tests := map[string]struct {
		files map[string]string
		path  string
		want  string
	}{
		"no Chart.yaml":      {files: map[string]string{"x/values.yaml": "a: 1\n"}, path: "x", want: "chart x in file://"},
		"path leaves source": {path: "../../etc", want: "path leaves the source"},
		"alias without mirror": {
			files: map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 1.x\n  repository: '@bitnami'\n"},
			path:  "c", want: `dependency redis: repository alias "@bitnami" needs a mirror entry`,
		},
		"dependency with no repository": {
			files: map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 1.x\n"},
			path:  "c", want: "dependency redis: not in charts/ and no repository given",
		},
		"file dependency outside": {
			files: map[string]string{"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: x\n  repository: file://../../../x\n"},
			path:  "c", want: "leaves the source",
		},
		"file dependencies in a cycle": {
			files: map[string]string{
				"a/Chart.yaml": "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n- name: b\n  repository: file://../b\n",
				"b/Chart.yaml": "apiVersion: v2\nname: b\nversion: 1.0.0\ndependencies:\n- name: a\n  repository: file://../a\n",
			},
			path: "a", want: "cycle",
		},
		"lock outside the constraint": {
			files: map[string]string{
				"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: redis\n  version: 2.x\n  repository: https://example.invalid\n",
				"c/Chart.lock": "dependencies:\n- name: redis\n  repository: https://example.invalid\n  version: 1.0.0\n",
			},
			path: "c", want: "Chart.lock pins 1.0.0",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			src, err := NewDir(dir, DirOptions{}).Fetch(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewLocalChart(src, tc.path, ChartOptions{Helm: HelmOptions{CacheDir: t.TempDir()}}).Fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
