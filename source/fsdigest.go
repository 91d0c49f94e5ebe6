package source

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// listFS lists the regular files of an fs.FS (symlinks followed, as the FS
// serves them) in path order.
func listFS(ctx context.Context, fsys fs.FS) ([]entry, error) {
	var out []entry
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := fs.Stat(fsys, p) // follows symlinks
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil // a symlink to a directory: its files are reached through the target
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		k := regularFile
		if info.Mode().Perm()&0o111 != 0 {
			k = execFile
		}
		out = append(out, entry{path: p, kind: k, size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	return out, nil
}

// digestFS digests the listed files of fsys with the artifact digest rules.
func digestFS(ctx context.Context, fsys fs.FS, entries []entry) (string, error) {
	return digestEntries(ctx, entries, func(p string) (io.ReadCloser, error) { return fsys.Open(p) })
}

// copyFS writes the listed files of fsys below dir, read-only.
func copyFS(ctx context.Context, dir string, fsys fs.FS, entries []entry) error {
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		dest := filepath.Join(dir, filepath.FromSlash(e.path))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		if e.kind == symlink {
			// Kept a link (listTree checked it stays in the tree), so a
			// linked directory works and paths read as the user wrote them.
			if err := os.Symlink(e.target, dest); err != nil {
				return err
			}
			continue
		}
		b, err := fs.ReadFile(fsys, e.path)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o444)
		if e.kind == execFile {
			mode = 0o555
		}
		if err := os.WriteFile(dest, b, mode); err != nil {
			return err
		}
	}
	return nil
}

// subPath cleans a slash path inside an artifact and rejects one that
// leaves it.
// A leading "/" means the artifact's root, as in Flux's spec.path.
func subPath(p string) (string, bool) {
	p = path.Clean(strings.TrimLeft(filepath.ToSlash(p), "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, fs.ValidPath(p)
}
