package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	"github.com/gitopskit/gitopskit/internal/filelock"
)

// FluxContentType is the layer media type of artifacts pushed with
// `flux push artifact`: a gzipped tar of manifests.
const FluxContentType = "application/vnd.cncf.flux.content.v1.tar+gzip"

// OCIRef says which artifact to pull, as a Flux OCIRepository's spec.ref:
// Digest wins over SemVer, SemVer over Tag; the zero value is "latest".
type OCIRef struct {
	Tag, SemVer, Digest string
}

// OCIOptions configure an OCI source. The zero value works.
type OCIOptions struct {
	Ref  OCIRef
	Auth HelmAuth
	// MediaType picks the layer to unpack; empty means the first layer, as
	// Flux does by default.
	MediaType string
	// CacheDir holds unpacked layers; default <user cache dir>/gitopskit/oci.
	CacheDir string
	// Timeout bounds one Fetch (OCIRepository spec.timeout); zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// OCI is an OCI artifact holding manifests (a Flux OCIRepository), pulled
// with oras-go: the layer is verified against its digest, unpacked safely
// and cached by digest, so an unchanged artifact costs one manifest lookup.
type OCI struct {
	url  string
	opts OCIOptions
}

// NewOCI returns a source for the artifact at url: oci://host/path in a
// registry, or file:///dir, an OCI image layout directory (a hermetic
// mirror of a registry repository: its index.json names tags).
func NewOCI(url string, opts OCIOptions) *OCI {
	return &OCI{url: RedactURL(url), opts: opts}
}

func (o *OCI) errorf(format string, args ...any) error {
	return fmt.Errorf("oci %s: "+format, append([]any{o.url}, args...)...)
}

// ociTarget is where an OCI artifact is read from: a registry, or an OCI
// image layout directory.
type ociTarget interface {
	content.Fetcher
	Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error)
	Tags(ctx context.Context, last string, fn func(tags []string) error) error
}

// target opens the registry repository of an oci:// URL, or the OCI image
// layout directory of a file:// one (what `oras copy --to-oci-layout` or
// `flux push artifact` to a layout writes) — a mirror for hermetic CI.
func (o *OCI) target(ctx context.Context) (ociTarget, error) {
	if dir, ok := strings.CutPrefix(o.url, "file://"); ok {
		store, err := oci.NewFromFS(ctx, os.DirFS(dir))
		if err != nil {
			return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
		}
		return store, nil
	}
	h := &HelmChart{opts: HelmOptions{Auth: o.opts.Auth}}
	client, err := h.client()
	if err != nil {
		return nil, err
	}
	return ociRepository(strings.TrimPrefix(o.url, "oci://"), o.opts.Auth, client)
}

// Fetch resolves the reference and returns the unpacked layer. Revision is
// "<tag>@sha256:<manifest>" (or "sha256:<manifest>" for a digest ref).
func (o *OCI) Fetch(ctx context.Context) (*Artifact, error) {
	ctx, done := within(ctx, o.opts.Timeout)
	art, err := o.fetch(ctx)
	return art, done(err)
}

func (o *OCI) fetch(ctx context.Context) (*Artifact, error) {
	root, err := cacheDir(o.opts.CacheDir, "oci")
	if err != nil {
		return nil, o.errorf("cache: %w", err)
	}
	repo, err := o.target(ctx)
	if err != nil {
		return nil, o.errorf("%w", err)
	}
	ref := o.opts.Ref
	tag := ref.Tag
	switch {
	case ref.Digest != "":
		tag = ref.Digest
	case ref.SemVer != "":
		var tags []string
		if err := repo.Tags(ctx, "", func(page []string) error { tags = append(tags, page...); return nil }); err != nil {
			return nil, o.errorf("list tags: %w", ociError(err))
		}
		if tag = highestVersion(ref.SemVer, tags); tag == "" {
			return nil, o.errorf("no tag matches semver %q", ref.SemVer)
		}
	case tag == "":
		tag = "latest"
	}
	desc, err := repo.Resolve(ctx, tag)
	if err != nil {
		return nil, o.errorf("resolve %s: %w", tag, ociError(err))
	}
	layer, err := manifestLayer(ctx, repo, desc, func(mt string) bool { return o.opts.MediaType == "" || mt == o.opts.MediaType })
	if err != nil {
		return nil, o.errorf("%w", err)
	}
	if layer == nil {
		return nil, o.errorf("%s has no layer of type %q", tag, o.opts.MediaType)
	}
	want := layer.Digest.Encoded()
	c, ok := loadArchive(root, "layers", want)
	if !ok {
		if err := os.MkdirAll(root, 0o755); err != nil {
			return nil, o.errorf("cache: %w", err)
		}
		unlock, err := filelock.Lock(ctx, filepath.Join(root, hashString(o.url)+".lock"), nil)
		if err != nil {
			return nil, o.errorf("%w", err)
		}
		defer unlock()
		blob, err := repo.Fetch(ctx, *layer)
		if err != nil {
			return nil, o.errorf("fetch layer: %w", ociError(err))
		}
		defer blob.Close()
		if c, err = storeArchive(ctx, root, "layers", blob, want, o.url, false); err != nil {
			return nil, o.errorf("layer %s: %w", layer.Digest, err)
		}
	}
	a := c.artifact(tag)
	a.URL = o.url
	a.Revision = desc.Digest.String()
	if ref.Digest == "" {
		a.Revision = tag + "@" + desc.Digest.String()
	}
	return a, nil
}
