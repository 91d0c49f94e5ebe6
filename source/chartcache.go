package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gitopskit/gitopskit/internal/memo"
)

// cachedChart is an unpacked archive (a chart, or an OCI artifact's
// layer) in the cache, under the sha256 of the archive.
type cachedChart struct {
	ArchiveDigest string `json:"archiveDigest"`
	Digest        string `json:"digest"`
	URL           string `json:"url"`
	Top           string `json:"top"`
	// ManifestDigest is set for charts pulled from OCI registries.
	ManifestDigest string `json:"manifestDigest,omitempty"`
	path           string
}

func (c *cachedChart) root() string { return filepath.Join(c.path, "chart", c.Top) }

func (c *cachedChart) artifact(version string) *Artifact {
	rev := version
	if c.ManifestDigest != "" {
		rev = version + "@" + c.ManifestDigest
	}
	return &Artifact{URL: c.URL, Revision: rev, Digest: c.Digest, Path: c.root(), FS: os.DirFS(c.root())}
}

func chartDir(root, archiveDigest string) string {
	return filepath.Join(root, "charts", archiveDigest)
}

func loadChart(root, archiveDigest string) (*cachedChart, bool) {
	return loadArchive(root, "charts", archiveDigest)
}

// archives keeps what loadArchive read of each cache entry in this
// process, by directory. An entry never changes once in place (it is named
// by its archive's digest and renamed into place complete), so its
// metaFile is decoded once; a Stat checks the entry is still there.
var archives = memo.New[string, cachedChart](1024)

func loadArchive(root, kind, archiveDigest string) (*cachedChart, bool) {
	if archiveDigest == "" {
		return nil, false
	}
	dir := filepath.Join(root, kind, archiveDigest)
	if c, ok := archives.Get(dir); ok {
		if _, err := os.Stat(filepath.Join(dir, metaFile)); err == nil {
			return &c, true
		}
	}
	var c cachedChart
	if !readMeta(dir, &c) || c.Digest == "" {
		return nil, false
	}
	c.path = dir
	archives.Put(dir, c)
	return &c, true
}

// storeChart reads a chart archive, checks it against wantDigest (hex
// sha256; empty skips the check), unpacks it and installs it in the cache
// under its digest. Nothing is installed unless all of that succeeds.
func storeChart(ctx context.Context, root string, r io.Reader, wantDigest, url string) (*cachedChart, error) {
	return storeArchive(ctx, root, "charts", r, wantDigest, url, true)
}

// storeArchive is storeChart for any gzipped tar under root/kind; with
// needTop the archive must hold one top-level directory, which becomes the
// artifact root.
func storeArchive(ctx context.Context, root, kind string, r io.Reader, wantDigest, url string, needTop bool) (*cachedChart, error) {
	charts := filepath.Join(root, kind)
	if err := os.MkdirAll(charts, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(charts, ".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	archive := filepath.Join(tmp, "chart.tgz")
	f, err := os.Create(archive)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), &ctxReader{ctx: ctx, r: r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if wantDigest != "" && got != wantDigest {
		return nil, fmt.Errorf("digest mismatch: the index says sha256:%s, the archive is sha256:%s", wantDigest, got)
	}
	if c, ok := loadArchive(root, kind, got); ok {
		return c, nil
	}
	af, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer af.Close()
	if err := os.Mkdir(filepath.Join(tmp, "chart"), 0o755); err != nil {
		return nil, err
	}
	top, err := extractTarGz(af, filepath.Join(tmp, "chart"))
	if err != nil {
		return nil, err
	}
	if !needTop {
		top = ""
	} else if top == "" {
		return nil, fmt.Errorf("archive has no single top-level chart directory")
	}
	chartRoot := filepath.Join(tmp, "chart", top)
	_, digest, err := scanDir(ctx, chartRoot, nil)
	if err != nil {
		return nil, err
	}
	os.Remove(archive)
	c := &cachedChart{ArchiveDigest: got, Digest: digest, URL: url, Top: top}
	if err := writeMeta(tmp, c); err != nil {
		return nil, err
	}
	dest := filepath.Join(root, kind, got)
	if err := os.Rename(tmp, dest); err != nil {
		if loaded, ok := loadArchive(root, kind, got); ok {
			return loaded, nil
		}
		return nil, err
	}
	c.path = dest
	return c, nil
}

// ctxReader stops a copy when its context is canceled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
