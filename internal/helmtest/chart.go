package helmtest

import (
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// WriteChart writes a chart directory under dir/name from files (paths
// relative to the chart root); Chart.yaml is written from name and version
// unless files has one. It returns the chart's directory.
func WriteChart(t testing.TB, dir, name, version string, files map[string]string) string {
	t.Helper()
	root := filepath.Join(dir, name)
	if _, ok := files["Chart.yaml"]; !ok {
		files["Chart.yaml"] = "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n"
	}
	for p, body := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// Package packages a chart directory into outDir as <name>-<version>.tgz
// with the Helm SDK and returns the archive's path.
func Package(t testing.TB, chartDir, outDir string) string {
	t.Helper()
	c, err := loader.LoadDir(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := chartutil.Save(c, outDir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// SimpleChart writes and packages a chart with one ConfigMap template
// whose data carries the version, and returns the archive's path.
func SimpleChart(t testing.TB, outDir, name, version string) string {
	t.Helper()
	src := WriteChart(t, t.TempDir(), name, version, map[string]string{
		"values.yaml": "greeting: hello\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n" +
			"data:\n  version: " + version + "\n  greeting: {{ .Values.greeting }}\n",
	})
	return Package(t, src, outDir)
}
