package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"sigs.k8s.io/yaml"
)

// ChartOptions configure a LocalChart. The zero value works: dependencies
// from repositories are fetched with HelmOptions' defaults.
type ChartOptions struct {
	// Helm configures fetching dependencies from chart repositories; its
	// CacheDir also holds charts whose dependencies had to be added.
	Helm HelmOptions
	// Mirrors rewrite dependency repository URLs (and @aliases).
	Mirrors Mirrors
}

// LocalChart is a chart at a path inside another artifact — a Git
// repository or a directory — as a Flux HelmChart whose sourceRef is a
// GitRepository. Dependencies already in the chart's charts/ directory are
// used as they are; the others are resolved as `helm dependency build`
// would: from Chart.lock's pinned versions when it has them, else from
// Chart.yaml's constraints, fetched from their repositories (through the
// mirrors) or, for file:// references, from the same artifact.
type LocalChart struct {
	src  *Artifact
	path string
	opts ChartOptions
}

// NewLocalChart returns a source for the chart at chartPath in src.
func NewLocalChart(src *Artifact, chartPath string, opts ChartOptions) *LocalChart {
	return &LocalChart{src: src, path: chartPath, opts: opts}
}

func (c *LocalChart) errorf(format string, args ...any) error {
	return fmt.Errorf("chart %s in %s: "+format, append([]any{c.path, c.src.URL}, args...)...)
}

// Fetch returns the chart, with its dependencies in charts/. Revision is
// the chart's version.
func (c *LocalChart) Fetch(ctx context.Context) (*Artifact, error) {
	return c.fetch(ctx, map[string]bool{})
}

func (c *LocalChart) fetch(ctx context.Context, visiting map[string]bool) (*Artifact, error) {
	p, ok := subPath(c.path)
	if !ok {
		return nil, c.errorf("path leaves the source")
	}
	if visiting[p] {
		return nil, c.errorf("file:// dependencies form a cycle")
	}
	visiting[p] = true
	defer delete(visiting, p)

	sub, err := fs.Sub(c.src.FS, p)
	if err != nil {
		return nil, c.errorf("%w", err)
	}
	md, err := readChartMetadata(sub)
	if err != nil {
		return nil, c.errorf("%w", err)
	}
	deps := md.Dependencies
	if md.APIVersion == chart.APIVersionV1 {
		if b, err := fs.ReadFile(sub, "requirements.yaml"); err == nil {
			var req struct{ Dependencies []*chart.Dependency }
			if err := yaml.Unmarshal(b, &req); err != nil {
				return nil, c.errorf("requirements.yaml: %w", err)
			}
			deps = req.Dependencies
		}
	}
	locked := map[string]string{}
	if b, err := fs.ReadFile(sub, "Chart.lock"); err == nil {
		var lock chart.Lock
		if err := yaml.Unmarshal(b, &lock); err != nil {
			return nil, c.errorf("Chart.lock: %w", err)
		}
		for _, d := range lock.Dependencies {
			locked[d.Name+"\x00"+d.Repository] = d.Version
		}
	}

	entries, err := listFS(ctx, sub)
	if err != nil {
		return nil, c.errorf("%w", err)
	}
	type added struct {
		name string
		a    *Artifact
	}
	var adds []added
	for _, d := range deps {
		if vendored(sub, d.Name) {
			continue
		}
		a, err := c.resolveDependency(ctx, p, d, locked, visiting)
		if err != nil {
			return nil, c.errorf("dependency %s: %w", d.Name, err)
		}
		adds = append(adds, added{d.Name, a})
	}

	digest, err := digestFS(ctx, sub, entries)
	if err != nil {
		return nil, c.errorf("%w", err)
	}
	url := c.src.URL + "#" + p
	if len(adds) == 0 {
		return &Artifact{URL: url, Revision: md.Version, Digest: digest, Path: filepath.Join(c.src.Path, filepath.FromSlash(p)), FS: sub}, nil
	}

	// Write the chart with its dependencies to the cache, under a key of
	// everything that went into it.
	keyParts := []string{digest}
	for _, a := range adds {
		keyParts = append(keyParts, a.name, a.a.Digest)
	}
	root, err := (&HelmChart{opts: c.opts.Helm}).cacheDir()
	if err != nil {
		return nil, c.errorf("cache: %w", err)
	}
	dir := filepath.Join(root, "local", hashString(strings.Join(keyParts, "\x00")))
	if t, ok := loadLocalChart(dir); ok {
		return &Artifact{URL: url, Revision: md.Version, Digest: t, Path: filepath.Join(dir, "chart"), FS: os.DirFS(filepath.Join(dir, "chart"))}, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, c.errorf("cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
	if err != nil {
		return nil, c.errorf("cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	chartDir := filepath.Join(tmp, "chart")
	if err := copyFS(ctx, chartDir, sub, entries); err != nil {
		return nil, c.errorf("%w", err)
	}
	for _, a := range adds {
		depEntries, err := listFS(ctx, a.a.FS)
		if err != nil {
			return nil, c.errorf("dependency %s: %w", a.name, err)
		}
		if err := copyFS(ctx, filepath.Join(chartDir, "charts", a.name), a.a.FS, depEntries); err != nil {
			return nil, c.errorf("dependency %s: %w", a.name, err)
		}
	}
	_, full, err := scanDir(ctx, chartDir, nil)
	if err != nil {
		return nil, c.errorf("%w", err)
	}
	if err := writeMeta(tmp, map[string]string{"digest": full}); err != nil {
		return nil, c.errorf("cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, ok := loadLocalChart(dir); !ok {
			return nil, c.errorf("cache: %w", err)
		}
	}
	return &Artifact{URL: url, Revision: md.Version, Digest: full, Path: filepath.Join(dir, "chart"), FS: os.DirFS(filepath.Join(dir, "chart"))}, nil
}

func loadLocalChart(dir string) (string, bool) {
	var m map[string]string
	if !readMeta(dir, &m) || m["digest"] == "" {
		return "", false
	}
	return m["digest"], true
}

func readChartMetadata(fsys fs.FS) (*chart.Metadata, error) {
	b, err := fs.ReadFile(fsys, "Chart.yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("no Chart.yaml")
	}
	if err != nil {
		return nil, err
	}
	var md chart.Metadata
	if err := yaml.Unmarshal(b, &md); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	if md.Name == "" || md.Version == "" {
		return nil, errors.New("Chart.yaml: name and version are required")
	}
	return &md, nil
}

// vendored reports whether charts/ already holds the dependency, unpacked
// or as an archive.
func vendored(chartFS fs.FS, name string) bool {
	des, err := fs.ReadDir(chartFS, "charts")
	if err != nil {
		return false
	}
	for _, de := range des {
		n := de.Name()
		if strings.HasSuffix(n, ".tgz") && strings.HasPrefix(n, name+"-") {
			return true
		}
		if md, err := readChartMetadata(subFS(chartFS, "charts/"+n)); err == nil && md.Name == name {
			return true
		}
	}
	return false
}

func subFS(fsys fs.FS, dir string) fs.FS {
	s, err := fs.Sub(fsys, dir)
	if err != nil {
		return fsys
	}
	return s
}

// resolveDependency fetches one dependency that charts/ does not hold.
func (c *LocalChart) resolveDependency(ctx context.Context, chartPath string, d *chart.Dependency, locked map[string]string, visiting map[string]bool) (*Artifact, error) {
	repo := d.Repository
	if r := c.opts.Mirrors.Rewrite(repo); r != repo {
		repo = r
	}
	version := d.Version
	if v, ok := locked[d.Name+"\x00"+d.Repository]; ok {
		if d.Version != "" {
			con, err := semver.NewConstraint(d.Version)
			lv, verr := semver.NewVersion(v)
			if err != nil || verr != nil || !con.Check(lv) {
				return nil, fmt.Errorf("Chart.lock pins %s, outside Chart.yaml's %q: run helm dependency update", v, d.Version)
			}
		}
		version = v
	}
	switch {
	case repo == "":
		return nil, errors.New("not in charts/ and no repository given")
	case strings.HasPrefix(repo, "file://") && strings.HasPrefix(d.Repository, "file://"):
		rel := strings.TrimPrefix(repo, "file://")
		target := path.Join(chartPath, rel)
		if target == ".." || strings.HasPrefix(target, "../") || path.IsAbs(rel) {
			return nil, fmt.Errorf("file:// reference %q leaves the source", d.Repository)
		}
		dep := &LocalChart{src: c.src, path: target, opts: c.opts}
		return dep.fetch(ctx, visiting)
	case strings.HasPrefix(repo, "@") || strings.HasPrefix(repo, "alias:"):
		return nil, fmt.Errorf("repository alias %q needs a mirror entry naming its URL", repo)
	}
	return NewHelmChart(repo, d.Name, version, c.opts.Helm).Fetch(ctx)
}
