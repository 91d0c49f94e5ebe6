package source

import (
	"context"
	"io/fs"
)

// Artifact is one fetched revision of a source: read-only files with a
// revision and a digest.
type Artifact struct {
	// URL is where the artifact came from, with any credentials removed.
	URL string
	// Revision says which revision this is, in Flux's format:
	// "main@sha1:<hex>" for a branch, "v1.2.3@sha1:<hex>" for a tag,
	// "sha1:<hex>" for a bare commit, "<tag>@sha256:<hex>" for OCI, a chart's
	// version for a Helm chart, "sha256:<hex>" for a local directory.
	Revision string
	// Digest is "sha256:<hex>" over the artifact's files, their paths, kinds
	// and sizes in a canonical order: equal trees have equal digests.
	Digest string
	// Path is the artifact's root directory on disk. Treat it as read-only;
	// for a Dir source it is the directory itself and may hold files the
	// ignore rules leave out of FS and Digest.
	Path string
	// FS holds exactly the files the digest covers, rooted at Path.
	FS fs.FS
}

// Source is anything that fetches artifacts: a Git repository, a local
// directory, a Helm chart.
type Source interface {
	Fetch(ctx context.Context) (*Artifact, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) (*Artifact, error)

// Fetch calls f.
func (f SourceFunc) Fetch(ctx context.Context) (*Artifact, error) { return f(ctx) }
