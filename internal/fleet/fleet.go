// Package fleet holds the example repository gitopskit's quickstart, tests
// and examples reconcile: a Flux fleet in the shape teams run — an
// infrastructure layer of HelmReleases (an operator chart that installs a
// CRD and its controller, and a database chart), a dependency layer of
// custom resources of that CRD, and an application as a Kustomize base with
// a dev overlay — with the charts it needs as a directory to mirror the Helm
// repository from, so nothing is fetched from the network.
package fleet

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Facts about the fleet that programs and tests refer to.
const (
	// Path is the root path of the cluster, as flux bootstrap lays it out.
	Path = "clusters/dev"
	// ChartsURL is the Helm repository the HelmRepository names; map it to
	// the charts directory with source.Mirrors.
	ChartsURL = "https://charts.example.com"

	Infrastructure = "Kustomization/flux-system/infrastructure"
	Dependency     = "Kustomization/flux-system/dependency"
	Application    = "Kustomization/flux-system/application"
	WidgetOperator = "HelmRelease/widgets-system/widget-operator"
	Database       = "HelmRelease/database/postgresql"

	// FeatureFlags is the file of the object RemoveFeatureFlags removes.
	FeatureFlags = "apps/dev/feature-flags.yaml"
)

//go:embed repo charts
var files embed.FS

// Repo returns the repository's files, by slash path.
func Repo() map[string]string { return tree("repo") }

// Charts returns the charts of the Helm repository, unpacked, by slash path
// (<chart>/<file>): lay them out in a directory and mirror ChartsURL to it.
func Charts() map[string]string { return tree("charts") }

func tree(root string) map[string]string {
	out := map[string]string{}
	err := fs.WalkDir(files, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		out[strings.TrimPrefix(p, root+"/")] = string(b)
		return err
	})
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return out
}

// RemoveFeatureFlags is the change the quickstart commits: the dev
// overlay stops listing the feature-flags ConfigMap and its file goes, so
// the next reconcile prunes it. Files mapped to "" are to be deleted.
func RemoveFeatureFlags() map[string]string {
	overlay := Repo()["apps/dev/kustomization.yaml"]
	return map[string]string{
		"apps/dev/kustomization.yaml": strings.Replace(overlay, "  - feature-flags.yaml\n", "", 1),
		FeatureFlags:                  "",
	}
}

// Write writes files (slash path → content) under dir; an empty content
// deletes the file.
func Write(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return err
			}
			continue
		}
		if strings.Contains(name, "..") {
			return fmt.Errorf("fleet: %s leaves the directory", name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}
