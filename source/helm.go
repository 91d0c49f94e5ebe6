package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/gitopskit/gitopskit/internal/atomicfile"
	"github.com/gitopskit/gitopskit/internal/filelock"
	"github.com/gitopskit/gitopskit/internal/memo"
)

// HelmAuth holds credentials for a Helm repository (HTTP or OCI), as the
// keys of a Flux HelmRepository secret hold them.
type HelmAuth struct {
	Username, Password string
	// CABundle holds extra PEM certificates trusted for HTTPS.
	CABundle []byte
	// TLSClientCert and TLSClientKey are a PEM client certificate and key
	// for mutual TLS (Flux's tls.crt and tls.key).
	TLSClientCert, TLSClientKey []byte
	// PassCredentials sends the credentials to chart URLs on other hosts
	// than the repository's, as Flux's spec.passCredentials; off by default.
	PassCredentials bool
	// PlainHTTP lets an oci:// repository be reached over plain HTTP, as
	// Flux's spec.insecure.
	PlainHTTP bool
}

// HelmAuthFromSecret reads credentials from the data of a Flux Helm
// repository secret (username, password, ca.crt, tls.crt, tls.key).
func HelmAuthFromSecret(data map[string][]byte) HelmAuth {
	return HelmAuth{Username: string(data["username"]), Password: string(data["password"]), CABundle: data["ca.crt"],
		TLSClientCert: data["tls.crt"], TLSClientKey: data["tls.key"]}
}

// HelmOptions configure a HelmChart source. The zero value works.
type HelmOptions struct {
	Auth HelmAuth
	// CacheDir holds indexes and charts; default <user cache dir>/gitopskit/helm.
	CacheDir string
	// HTTPClient, if set, is used for HTTP repositories (its transport's TLS
	// settings win over Auth.CABundle).
	HTTPClient *http.Client
	// Timeout bounds one Fetch — index and chart (HelmRepository
	// spec.timeout); zero means DefaultTimeout.
	Timeout time.Duration
}

// HelmChart is a chart in a Helm repository: an HTTP(S) repository with an
// index.yaml, an OCI registry (oci://), or a local directory (file://) with
// an index.yaml or with unpacked charts in sub-directories — the last for
// offline mirrors.
//
// Version is a semver constraint ("1.2.3", "~1.2", ">=1.0.0 <2.0.0"); empty
// means the latest stable version. The highest matching version is fetched.
// Archives are checked against the index's digest and cached by it; an
// exact version already in the cache is served with no request at all, and
// an unchanged version is never downloaded twice.
type HelmChart struct {
	repoURL, name, version string
	opts                   HelmOptions
}

// NewHelmChart returns a source for chart name at version from repoURL.
func NewHelmChart(repoURL, name, version string, opts HelmOptions) *HelmChart {
	return &HelmChart{repoURL: strings.TrimSuffix(RedactURL(repoURL), "/"), name: name, version: version, opts: opts}
}

func (h *HelmChart) errorf(format string, args ...any) error {
	return fmt.Errorf("helm chart %s/%s@%s: "+format, append([]any{h.repoURL, h.name, h.versionLabel()}, args...)...)
}

func (h *HelmChart) versionLabel() string {
	if h.version == "" {
		return "latest"
	}
	return h.version
}

func (h *HelmChart) cacheDir() (string, error) { return cacheDir(h.opts.CacheDir, "helm") }

// Fetch resolves the version and returns the unpacked chart. Revision is
// the chart's version (for OCI: "<version>@sha256:<manifest digest>").
func (h *HelmChart) Fetch(ctx context.Context) (*Artifact, error) {
	ctx, done := within(ctx, h.opts.Timeout)
	art, err := h.fetch(ctx)
	return art, done(err)
}

func (h *HelmChart) fetch(ctx context.Context) (*Artifact, error) {
	if isDigest(h.version) {
		if !strings.HasPrefix(h.repoURL, "oci://") {
			return nil, h.errorf("a digest selects a chart only in an OCI registry; mirror the oci:// URL to one (an in-process registry in tests)")
		}
	} else if h.version != "" {
		if _, err := semver.NewConstraint(h.version); err != nil {
			return nil, h.errorf("version is not a semver constraint: %w", err)
		}
	}
	root, err := h.cacheDir()
	if err != nil {
		return nil, h.errorf("cache: %w", err)
	}
	switch u, _ := url.Parse(h.repoURL); {
	case u == nil:
		return nil, h.errorf("repository URL does not parse")
	case u.Scheme == "oci":
		return h.fetchOCI(ctx, root)
	case u.Scheme == "file":
		if _, err := os.Stat(filepath.Join(u.Path, "index.yaml")); errors.Is(err, os.ErrNotExist) {
			return h.fetchUnpacked(ctx, u.Path)
		}
		return h.fetchIndexed(ctx, root)
	case u.Scheme == "http" || u.Scheme == "https":
		return h.fetchIndexed(ctx, root)
	default:
		return nil, h.errorf("unsupported repository scheme %q (want http, https, oci or file)", u.Scheme)
	}
}

// isDigest reports whether a version is an OCI manifest digest
// (OCIRepository ref.digest), which wins over any tag or semver.
func isDigest(v string) bool { return strings.HasPrefix(v, "sha256:") }

// exactVersion reports whether the constraint names one version only.
func exactVersion(c string) bool {
	if c == "" || strings.ContainsAny(c, "<>=~^*|, xX") {
		return false
	}
	_, err := semver.StrictNewVersion(strings.TrimPrefix(c, "v"))
	return err == nil
}

// refKey names the cache entry that maps (repository, chart, version) to
// the archive digest it resolved to.
func (h *HelmChart) refKey(version string) string {
	return hashString(h.repoURL + "\x00" + h.name + "\x00" + version)
}

func (h *HelmChart) fetchIndexed(ctx context.Context, root string) (*Artifact, error) {
	repoKey := hashString(h.repoURL)
	if err := os.MkdirAll(filepath.Join(root, "refs"), 0o755); err != nil {
		return nil, h.errorf("cache: %w", err)
	}
	if exactVersion(h.version) {
		if a, ok := h.loadRef(root, h.version); ok {
			return a.Artifact, nil
		}
	}
	unlock, err := filelock.Lock(ctx, filepath.Join(root, repoKey+".lock"), nil)
	if err != nil {
		return nil, h.errorf("%w", err)
	}
	defer unlock()

	index, err := h.index(ctx, root, repoKey)
	if err != nil {
		return nil, err
	}
	cv, err := index.Get(h.name, h.version)
	if err != nil {
		return nil, h.errorf("not in the repository index: %w", err)
	}
	if len(cv.URLs) == 0 {
		return nil, h.errorf("index lists version %s with no URL", cv.Version)
	}
	if a, ok := h.loadRef(root, cv.Version); ok && (cv.Digest == "" || strings.HasSuffix(a.digestKey, cv.Digest)) {
		return a.Artifact, nil
	}
	if cv.Digest != "" {
		if t, ok := loadChart(root, cv.Digest); ok {
			return h.finish(root, t, cv.Version, t.URL)
		}
	}
	chartURL, err := h.resolveChartURL(cv.URLs[0])
	if err != nil {
		return nil, h.errorf("%w", err)
	}
	resp, err := h.get(ctx, chartURL, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	t, err := storeChart(ctx, root, resp.Body, cv.Digest, RedactURL(chartURL))
	if err != nil {
		return nil, h.errorf("%s: %w", RedactURL(chartURL), err)
	}
	return h.finish(root, t, cv.Version, t.URL)
}

// finish records the version → digest mapping and returns the artifact.
func (h *HelmChart) finish(root string, t *cachedChart, version, chartURL string) (*Artifact, error) {
	ref := filepath.Join(root, "refs", h.refKey(version))
	if err := atomicfile.WriteFile(ref, []byte(t.ArchiveDigest), 0o600); err != nil {
		return nil, h.errorf("cache: %w", err)
	}
	refs.Put(ref, t.ArchiveDigest)
	return t.artifact(version), nil
}

// refs keeps the version → archive digest mappings this process wrote or
// read, by file, so a warm fetch does not read them again. A mapping only
// changes when this process (or another sharing the cache) writes it
// again, and either way it names a complete entry that loadChart checks.
var refs = memo.New[string, string](1024)

type loadedRef struct {
	*Artifact
	digestKey string
}

func (h *HelmChart) loadRef(root, version string) (loadedRef, bool) {
	ref := filepath.Join(root, "refs", h.refKey(version))
	digest, ok := refs.Get(ref)
	if !ok {
		b, err := os.ReadFile(ref)
		if err != nil {
			return loadedRef{}, false
		}
		digest = string(b)
		refs.Put(ref, digest)
	}
	t, ok := loadChart(root, digest)
	if !ok {
		return loadedRef{}, false
	}
	return loadedRef{Artifact: t.artifact(version), digestKey: t.ArchiveDigest}, true
}

// indexes keeps parsed repository indexes by the digest of their bytes:
// an unchanged index (the server's 304, or the same file behind a file://
// mirror) is parsed once per process. An IndexFile kept here is only read.
var indexes = memo.New[[sha256.Size]byte, *repo.IndexFile](64)

// parseIndex parses an index.yaml as Helm does, once per content. Helm
// parses only files, so a new index goes through a temporary file in dir.
// sum is the SHA-256 of b.
func parseIndex(dir string, b []byte, sum [sha256.Size]byte) (*repo.IndexFile, error) {
	if idx, ok := indexes.Get(sum); ok {
		return idx, nil
	}
	tmp, err := os.CreateTemp(dir, ".index-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return nil, err
	}
	idx, err := repo.LoadIndexFile(tmp.Name())
	if err != nil {
		return nil, err
	}
	indexes.Put(sum, idx)
	return idx, nil
}

// cachedIndex is what this process last wrote or read of a cached index
// file: its ETag and the digest of its bytes.
type cachedIndex struct {
	etag string
	sum  [sha256.Size]byte
}

// cachedIndexes keeps a cachedIndex per cached index file, so an
// unchanged index costs neither a read of its ETag nor one of the cached
// copy to compare it with. Processes sharing a cache directory may each
// write a repository's index there; as without the memo, a 304 answer
// reads whichever complete copy was written last.
var cachedIndexes = memo.New[string, cachedIndex](256)

// index downloads the repository index, or reuses the cached one when the
// server says it has not changed. Only an ETag counts: Last-Modified has a
// one-second granularity, too coarse to trust for an index rewritten within
// the same second.
func (h *HelmChart) index(ctx context.Context, root, repoKey string) (*repo.IndexFile, error) {
	dir := filepath.Join(root, "index")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, h.errorf("cache: %w", err)
	}
	file := filepath.Join(dir, repoKey+".yaml")
	metaFile := file + ".meta"
	known, remembered := cachedIndexes.Get(file)
	meta := struct{ ETag string }{known.etag}
	if !remembered {
		if b, err := os.ReadFile(metaFile); err == nil {
			_ = json.Unmarshal(b, &meta)
		}
	}
	if _, err := os.Stat(file); err != nil {
		meta.ETag = ""
		remembered = false
	}
	hdr := http.Header{}
	if meta.ETag != "" {
		hdr.Set("If-None-Match", meta.ETag)
	}
	indexURL := h.repoURL + "/index.yaml"
	resp, err := h.get(ctx, indexURL, hdr)
	switch {
	case errors.Is(err, errNotModified):
	case err != nil:
		return nil, err
	default:
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, 100<<20))
		resp.Body.Close()
		if rerr != nil {
			return nil, h.errorf("read index: %w", rerr)
		}
		// Parse before caching, so a malformed index never replaces a good one.
		sum := sha256.Sum256(b)
		idx, err := parseIndex(dir, b, sum)
		if err != nil {
			return nil, h.errorf("index.yaml is malformed: %w", err)
		}
		// A server without ETags (or a file:// mirror) sends the same
		// index again: write it only when it changed.
		changed := known.sum != sum
		if !remembered {
			old, err := os.ReadFile(file)
			changed = err != nil || !bytes.Equal(old, b)
		}
		if changed {
			if err := atomicfile.WriteFile(file, b, 0o600); err != nil {
				return nil, h.errorf("cache: %w", err)
			}
		}
		if etag := resp.Header.Get("ETag"); etag != meta.ETag {
			meta.ETag = etag
			mb, _ := json.Marshal(meta)
			_ = atomicfile.WriteFile(metaFile, mb, 0o600)
		}
		cachedIndexes.Put(file, cachedIndex{etag: meta.ETag, sum: sum})
		return idx, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, h.errorf("cache: %w", err)
	}
	idx, err := parseIndex(dir, b, sha256.Sum256(b))
	if err != nil {
		return nil, h.errorf("index.yaml is malformed: %w", err)
	}
	return idx, nil
}
