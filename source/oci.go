package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"helm.sh/helm/v3/pkg/chartutil"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/gitopskit/gitopskit/internal/atomicfile"
	"github.com/gitopskit/gitopskit/internal/filelock"
)

// Media types of Helm charts stored in OCI registries.
const (
	helmChartLayerType       = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	helmLegacyChartLayerType = "application/tar+gzip"
)

// fetchOCI pulls a chart from oci://host/path/<name>: tags are listed and
// the highest matching the constraint chosen (OCI tags write semver's '+'
// as '_'); the manifest is resolved, and the chart layer downloaded only if
// the cache does not hold it yet.
func (h *HelmChart) fetchOCI(ctx context.Context, root string) (*Artifact, error) {
	ref := strings.TrimPrefix(h.repoURL, "oci://") + "/" + h.name
	client, err := h.client()
	if err != nil {
		return nil, h.errorf("%w", err)
	}
	repo, err := ociRepository(ref, h.opts.Auth, client)
	if err != nil {
		return nil, h.errorf("%w", err)
	}

	tag := h.version
	if !exactVersion(h.version) && !isDigest(h.version) {
		var tags []string
		err := repo.Tags(ctx, "", func(page []string) error {
			for _, t := range page {
				tags = append(tags, strings.ReplaceAll(t, "_", "+"))
			}
			return nil
		})
		if err != nil {
			return nil, h.errorf("list tags: %w", ociError(err))
		}
		if tag = highestVersion(h.version, tags); tag == "" {
			return nil, h.errorf("no tag matches (tags: %s)", strings.Join(tags, ", "))
		}
	}
	version := tag
	if !isDigest(tag) {
		tag = strings.ReplaceAll(tag, "+", "_")
	}
	manifestDesc, err := repo.Resolve(ctx, tag)
	if err != nil {
		return nil, h.errorf("resolve tag %s: %w", tag, ociError(err))
	}

	// The manifest digest says which layer: look it up in the cache first.
	indexFile := filepath.Join(root, "oci", strings.ReplaceAll(manifestDesc.Digest.String(), ":", "-"))
	if b, err := os.ReadFile(indexFile); err == nil {
		if c, ok := loadChart(root, string(b)); ok {
			return ociArtifact(c, version, manifestDesc), nil
		}
	}
	layer, err := manifestLayer(ctx, repo, manifestDesc, func(mt string) bool { return mt == helmChartLayerType || mt == helmLegacyChartLayerType })
	if err != nil {
		return nil, h.errorf("%w", err)
	}
	if layer == nil {
		return nil, h.errorf("%s:%s is not a Helm chart (no layer of type %s)", ref, tag, helmChartLayerType)
	}
	want := layer.Digest.Encoded()
	c, ok := loadChart(root, want)
	if !ok {
		unlock, err := filelock.Lock(ctx, filepath.Join(root, hashString(h.repoURL)+".lock"), nil)
		if err != nil {
			return nil, h.errorf("%w", err)
		}
		defer unlock()
		blob, err := repo.Blobs().Fetch(ctx, *layer)
		if err != nil {
			return nil, h.errorf("fetch chart layer: %w", ociError(err))
		}
		defer blob.Close()
		if c, err = storeChart(ctx, root, blob, want, "oci://"+ref+":"+tag); err != nil {
			return nil, h.errorf("%w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(indexFile), 0o755); err != nil {
		return nil, h.errorf("cache: %w", err)
	}
	if err := atomicfile.WriteFile(indexFile, []byte(c.ArchiveDigest), 0o600); err != nil {
		return nil, h.errorf("cache: %w", err)
	}
	return ociArtifact(c, version, manifestDesc), nil
}

// ociRepository opens a registry repository (host/path, no scheme) with
// the credentials, if any.
// manifestLayer fetches the manifest desc names (checking its size and
// digest) and returns its first layer whose media type match accepts, or
// nil if there is none.
func manifestLayer(ctx context.Context, repo content.Fetcher, desc ocispec.Descriptor, match func(mediaType string) bool) (*ocispec.Descriptor, error) {
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("fetch manifest: %w", ociError(err))
	}
	mb, err := content.ReadAll(rc, desc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(mb, &manifest); err != nil {
		return nil, fmt.Errorf("manifest does not parse: %w", err)
	}
	for i, l := range manifest.Layers {
		if match(l.MediaType) {
			return &manifest.Layers[i], nil
		}
	}
	return nil, nil
}

func ociRepository(ref string, a HelmAuth, client *http.Client) (*remote.Repository, error) {
	repo, err := remote.NewRepository(ref)
	if err != nil {
		return nil, err
	}
	repo.PlainHTTP = a.PlainHTTP
	ac := &auth.Client{Client: client, Cache: auth.NewCache()}
	if a.Username != "" || a.Password != "" {
		ac.Credential = auth.StaticCredential(repo.Reference.Registry, auth.Credential{Username: a.Username, Password: a.Password})
	}
	repo.Client = ac
	return repo, nil
}

func ociArtifact(c *cachedChart, version string, manifest ocispec.Descriptor) *Artifact {
	if isDigest(version) { // pinned by digest: the version is the chart's own
		if md, err := chartutil.LoadChartfile(filepath.Join(c.root(), "Chart.yaml")); err == nil {
			version = md.Version
		}
	}
	a := c.artifact(version)
	a.Revision = version + "@" + manifest.Digest.String()
	return a
}

// ociError says plainly when the registry refused the credentials; oras
// errors already leave credentials out.
func ociError(err error) error {
	var re *errcode.ErrorResponse
	if errors.As(err, &re) && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("authentication failed: %w", err)
	}
	return err
}
