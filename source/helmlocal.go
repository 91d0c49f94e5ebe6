package source

import (
	"context"
	"os"
	"path/filepath"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chartutil"
)

// fetchUnpacked serves a chart from a directory of unpacked charts (each
// sub-directory holding a Chart.yaml), the layout of an offline mirror. The
// chart is read in place.
func (h *HelmChart) fetchUnpacked(ctx context.Context, dir string) (*Artifact, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, h.errorf("%w", err)
	}
	var (
		best    *semver.Version
		bestDir string
	)
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		md, err := chartutil.LoadChartfile(filepath.Join(dir, de.Name(), "Chart.yaml"))
		if err != nil || md.Name != h.name {
			continue
		}
		v, err := semver.NewVersion(md.Version)
		if err != nil {
			return nil, h.errorf("%s: Chart.yaml version %q is not semver", de.Name(), md.Version)
		}
		if !versionMatches(h.version, v) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best, bestDir = v, filepath.Join(dir, de.Name())
		}
	}
	if best == nil {
		return nil, h.errorf("no chart named %q with a matching version in %s", h.name, dir)
	}
	entries, digest, err := scanDir(ctx, bestDir, nil)
	if err != nil {
		return nil, h.errorf("%w", err)
	}
	return &Artifact{
		URL:      "file://" + filepath.ToSlash(bestDir),
		Revision: best.Original(),
		Digest:   digest,
		Path:     bestDir,
		FS:       newTreeFS(bestDir, entries),
	}, nil
}

// versionMatches applies a Helm version constraint; empty means any stable
// version.
func versionMatches(constraint string, v *semver.Version) bool {
	if constraint == "" {
		return v.Prerelease() == ""
	}
	c, err := semver.NewConstraint(constraint)
	return err == nil && c.Check(v)
}

// highestVersion picks the highest of versions (as written) matching the
// constraint, or "" when none does.
func highestVersion(constraint string, versions []string) string {
	var best *semver.Version
	bestRaw := ""
	for _, raw := range versions {
		v, err := semver.NewVersion(raw)
		if err != nil || !versionMatches(constraint, v) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best, bestRaw = v, raw
		}
	}
	return bestRaw
}
