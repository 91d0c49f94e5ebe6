package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// DirOptions configure a Dir source. The zero value works.
type DirOptions struct {
	// Ignore holds gitignore-style rules, one per line, that replace the
	// default exclusions (as Flux's spec.ignore does); VCS metadata such as
	// .git/ is always left out. .sourceignore files in the tree apply too.
	Ignore string
}

// Dir is a local directory as a source — a checkout, or a working tree with
// uncommitted changes — so what is on disk can be rendered or reconciled
// before it is committed.
type Dir struct {
	path string
	opts DirOptions
}

// NewDir returns a source for the directory at path.
func NewDir(path string, opts DirOptions) *Dir {
	return &Dir{path: path, opts: opts}
}

// Fetch lists and digests the directory as it is now. The artifact reads
// the directory in place, so Fetch again after changing it.
func (d *Dir) Fetch(ctx context.Context) (*Artifact, error) {
	abs, err := filepath.Abs(d.path)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", d.path, err)
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", d.path, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("dir %s: not a directory", d.path)
	}
	entries, digest, err := scanDir(ctx, abs, baseRules(d.opts.Ignore))
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", d.path, err)
	}
	return &Artifact{
		URL:      "file://" + filepath.ToSlash(abs),
		Revision: digest,
		Digest:   digest,
		Path:     abs,
		FS:       newTreeFS(abs, entries),
	}, nil
}
