package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// entryKind is what a tree entry is.
type entryKind byte

const (
	regularFile entryKind = 'f'
	execFile    entryKind = 'x'
	symlink     entryKind = 'l'
)

// entry is one file of a tree: a slash path relative to the root.
type entry struct {
	path   string
	kind   entryKind
	size   int64
	target string // symlink target, as written
}

// dirent is one child of a directory being listed.
type dirent struct {
	name  string
	isDir bool
	kind  entryKind // for files
	size  int64
	// target is a symlink's target; link reads it lazily for disk trees.
	target string
}

// treeReader lists a tree being turned into an artifact: a directory on
// disk, or a Git commit's tree.
type treeReader interface {
	readDir(rel string) ([]dirent, error)
	// readFile returns a small file's content (for .sourceignore), or
	// fs.ErrNotExist.
	readFile(rel string) ([]byte, error)
}

// listTree lists the files of a tree that the rules (plus every
// .sourceignore in the tree, each applying below its own directory) keep,
// sorted by path. An excluded directory is not entered, as git does, so
// nothing below it can be re-included. A symlink pointing outside the tree
// is an error naming it.
func listTree(ctx context.Context, r treeReader, rules []gitignore.Pattern) ([]entry, error) {
	var out []entry
	var walk func(rel string, rules []gitignore.Pattern) error
	walk = func(rel string, rules []gitignore.Pattern) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		des, err := r.readDir(rel)
		if err != nil {
			return err
		}
		domain := splitPath(rel)
		if b, err := r.readFile(path.Join(rel, IgnoreFile)); err == nil {
			rules = append(slices.Clip(rules), parseRules(strings.Split(string(b), "\n"), domain)...)
		}
		m := gitignore.NewMatcher(rules)
		for _, de := range des {
			p := path.Join(rel, de.name)
			if m.Match(append(slices.Clip(domain), de.name), de.isDir) {
				continue
			}
			if de.isDir {
				if err := walk(p, rules); err != nil {
					return err
				}
				continue
			}
			if de.kind == symlink {
				if _, err := resolveLink(p, de.target); err != nil {
					return err
				}
			}
			out = append(out, entry{path: p, kind: de.kind, size: de.size, target: de.target})
		}
		return nil
	}
	if err := walk("", rules); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	return out, nil
}

// diskTree reads a directory on disk.
type diskTree string

func (d diskTree) abs(rel string) string { return filepath.Join(string(d), filepath.FromSlash(rel)) }

func (d diskTree) readDir(rel string) ([]dirent, error) {
	des, err := os.ReadDir(d.abs(rel))
	if err != nil {
		return nil, err
	}
	out := make([]dirent, 0, len(des))
	for _, de := range des {
		p := path.Join(rel, de.Name())
		switch t := de.Type(); {
		case t.IsDir():
			out = append(out, dirent{name: de.Name(), isDir: true})
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(d.abs(p))
			if err != nil {
				return nil, err
			}
			out = append(out, dirent{name: de.Name(), kind: symlink, target: target})
		case t.IsRegular():
			info, err := de.Info()
			if err != nil {
				return nil, err
			}
			k := regularFile
			if info.Mode().Perm()&0o111 != 0 {
				k = execFile
			}
			out = append(out, dirent{name: de.Name(), kind: k, size: info.Size()})
		}
		// Sockets, devices and pipes are not content; they are left out.
	}
	return out, nil
}

func (d diskTree) readFile(rel string) ([]byte, error) { return os.ReadFile(d.abs(rel)) }

func splitPath(rel string) []string {
	if rel == "" || rel == "." {
		return nil
	}
	return strings.Split(rel, "/")
}

// resolveLink returns the slash path a symlink at p (relative to the tree
// root) points to, or an error when it leaves the tree.
func resolveLink(p, target string) (string, error) {
	if path.IsAbs(filepath.ToSlash(target)) || filepath.IsAbs(target) {
		return "", fmt.Errorf("%s: symlink to absolute path %q leaves the source tree", p, target)
	}
	r := path.Join(path.Dir(p), filepath.ToSlash(target))
	if r == ".." || strings.HasPrefix(r, "../") {
		return "", fmt.Errorf("%s: symlink to %q leaves the source tree", p, target)
	}
	return r, nil
}

// digester computes an artifact digest: sha256 over every entry in path
// order — its path, kind, size and content (a symlink's target) — so equal
// trees give equal digests whatever the order files were written in.
type digester struct{ h hash.Hash }

func newDigester() *digester { return &digester{h: sha256.New()} }

func (d *digester) add(e entry, content io.Reader) error {
	fmt.Fprintf(d.h, "%s\x00%c\x00%d\x00", e.path, e.kind, e.size)
	if e.kind == symlink {
		io.WriteString(d.h, e.target)
		return nil
	}
	n, err := io.Copy(d.h, content)
	if err != nil {
		return err
	}
	if n != e.size {
		return fmt.Errorf("%s: changed while being read", e.path)
	}
	return nil
}

func (d *digester) sum() string { return "sha256:" + hex.EncodeToString(d.h.Sum(nil)) }

// scanDir lists the files of root that rules keep and digests them: the two
// steps every on-disk artifact takes.
func scanDir(ctx context.Context, root string, rules []gitignore.Pattern) ([]entry, string, error) {
	entries, err := listTree(ctx, diskTree(root), rules)
	if err != nil {
		return nil, "", err
	}
	digest, err := digestDir(ctx, root, entries)
	if err != nil {
		return nil, "", err
	}
	return entries, digest, nil
}

// digestDir digests the listed files of root (symlinks by their targets).
func digestDir(ctx context.Context, root string, entries []entry) (string, error) {
	return digestEntries(ctx, entries, func(p string) (io.ReadCloser, error) {
		return os.Open(filepath.Join(root, filepath.FromSlash(p)))
	})
}

// digestEntries digests entries in order, opening each non-link file.
func digestEntries(ctx context.Context, entries []entry, open func(path string) (io.ReadCloser, error)) (string, error) {
	d := newDigester()
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if e.kind == symlink {
			if err := d.add(e, nil); err != nil {
				return "", err
			}
			continue
		}
		f, err := open(e.path)
		if err != nil {
			return "", err
		}
		err = d.add(e, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	return d.sum(), nil
}
