package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DirOptions configure a Dir source. The zero value works.
type DirOptions struct {
	// Ignore holds gitignore-style rules, one per line, that replace the
	// default exclusions (as Flux's spec.ignore does); VCS metadata such as
	// .git/ is always left out. .sourceignore files in the tree apply too.
	Ignore string
	// CacheDir holds the snapshots Fetch takes (default: <user cache
	// dir>/gitopskit/dir).
	CacheDir string
}

// keptSnapshots is how many snapshots of one directory stay in the cache.
const keptSnapshots = 4

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

// Fetch lists and digests the directory as it is now, and takes a
// snapshot of exactly the files its ignore rules keep: the artifact's Path
// and FS hold those and nothing else, so a renderer never sees an ignored
// file, and an edit made while a render runs does not reach it. Snapshots
// are kept by digest (an unchanged tree is not copied again), the newest
// few per directory. Fetch again after changing the directory.
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
	snap, err := d.snapshot(ctx, abs, entries, digest)
	if err != nil {
		return nil, fmt.Errorf("dir %s: snapshot: %w", d.path, err)
	}
	return &Artifact{
		URL:      "file://" + filepath.ToSlash(abs),
		Revision: digest,
		Digest:   digest,
		Path:     snap,
		FS:       os.DirFS(snap),
	}, nil
}

// snapshot copies the listed files of abs into the cache under digest,
// unless a snapshot of that digest is there, and drops the oldest
// snapshots of the same directory.
func (d *Dir) snapshot(ctx context.Context, abs string, entries []entry, digest string) (string, error) {
	root, err := cacheDir(d.opts.CacheDir, "dir")
	if err != nil {
		return "", err
	}
	parent := filepath.Join(root, hashString(abs))
	dest := filepath.Join(parent, strings.TrimPrefix(digest, "sha256:"))
	now := time.Now()
	if _, err := os.Stat(dest); err == nil {
		_ = os.Chtimes(dest, now, now) // most recently used
		_ = os.Chtimes(parent, now, now)
		return dest, nil
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := copyFS(ctx, tmp, newTreeFS(abs, entries), entries); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dest); err != nil {
		if _, serr := os.Stat(dest); serr != nil {
			return "", err
		} // made meanwhile by another Fetch
	}
	pruneSnapshots(parent, dest)
	pruneDirs(root, parent)
	return dest, nil
}

// snapshotsUnused is how long the snapshots of a directory no Fetch has
// asked for stay in the cache.
const snapshotsUnused = 7 * 24 * time.Hour

// pruneDirs removes the snapshots of directories not fetched for
// snapshotsUnused (temporary directories, say), never current's.
func pruneDirs(root, current string) {
	des, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, de := range des {
		p := filepath.Join(root, de.Name())
		if info, err := de.Info(); err == nil && de.IsDir() && p != current && time.Since(info.ModTime()) > snapshotsUnused {
			os.RemoveAll(p)
		}
	}
}

// pruneSnapshots removes all but the keptSnapshots most recently used
// snapshots in parent; keep is never removed.
func pruneSnapshots(parent, keep string) {
	des, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	type snap struct {
		path string
		used time.Time
	}
	var snaps []snap
	for _, de := range des {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".tmp-") {
			continue
		}
		if info, err := de.Info(); err == nil {
			snaps = append(snaps, snap{filepath.Join(parent, de.Name()), info.ModTime()})
		}
	}
	slices.SortFunc(snaps, func(a, b snap) int { return b.used.Compare(a.used) })
	for i, s := range snaps {
		if i >= keptSnapshots && s.path != keep {
			os.RemoveAll(s.path)
		}
	}
}
