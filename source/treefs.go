package source

import (
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"
)

// treeFS serves exactly the listed entries of a directory on disk: what the
// ignore rules left out is not there, and symlinks resolve inside the tree.
type treeFS struct {
	root  string
	files map[string]entry
	dirs  map[string][]string // directory → sorted child names; "." is the root
}

func newTreeFS(root string, entries []entry) *treeFS {
	t := &treeFS{root: root, files: make(map[string]entry, len(entries)), dirs: map[string][]string{".": nil}}
	for _, e := range entries {
		t.files[e.path] = e
		child := e.path
		for {
			parent := path.Dir(child)
			_, known := t.dirs[parent]
			t.dirs[parent] = append(t.dirs[parent], path.Base(child))
			if known || parent == "." {
				break
			}
			child = parent
		}
	}
	for d, names := range t.dirs {
		slices.Sort(names)
		t.dirs[d] = slices.Compact(names)
	}
	return t
}

func (t *treeFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	real, err := t.resolve(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if _, ok := t.dirs[real]; ok {
		return &treeDir{t: t, name: real, base: path.Base(name)}, nil
	}
	f, err := os.Open(filepath.Join(t.root, filepath.FromSlash(real)))
	if err != nil || real == name {
		return f, err
	}
	return &linkFile{File: f, name: path.Base(name)}, nil
}

// linkFile is a file opened through a symlink: it carries the link's name.
type linkFile struct {
	*os.File
	name string
}

func (f *linkFile) Stat() (fs.FileInfo, error) {
	info, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return namedInfo{FileInfo: info, name: f.name}, nil
}

type namedInfo struct {
	fs.FileInfo
	name string
}

func (n namedInfo) Name() string { return n.name }

// resolve follows symlinks (a bounded number of them) to a listed file or
// directory.
func (t *treeFS) resolve(name string) (string, error) {
	for range 40 {
		if _, ok := t.dirs[name]; ok {
			return name, nil
		}
		e, ok := t.files[name]
		if !ok {
			return "", fs.ErrNotExist
		}
		if e.kind != symlink {
			return name, nil
		}
		next, err := resolveLink(e.path, e.target)
		if err != nil {
			return "", fs.ErrNotExist
		}
		name = next
	}
	return "", fs.ErrInvalid
}

func (t *treeFS) ReadFile(name string) ([]byte, error) {
	f, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if d, ok := f.(*treeDir); ok {
		return nil, &fs.PathError{Op: "read", Path: d.name, Err: fs.ErrInvalid}
	}
	return io.ReadAll(f)
}

func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	real, err := t.resolve(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	d := &treeDir{t: t, name: real, base: path.Base(name)}
	return d.ReadDir(-1)
}

func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	f, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// treeDir is an open directory of a treeFS.
type treeDir struct {
	t    *treeFS
	name string // the directory's path in the tree, symlinks resolved
	base string // the name it was opened by
	read int
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return dirInfo(d.base), nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: fs.ErrInvalid}
}
func (d *treeDir) Close() error { return nil }

func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	names := d.t.dirs[d.name][d.read:]
	if n > 0 && len(names) > n {
		names = names[:n]
	}
	out := make([]fs.DirEntry, 0, len(names))
	for _, name := range names {
		p := name
		if d.name != "." {
			p = d.name + "/" + name
		}
		info, err := d.t.Stat(p)
		if err != nil {
			return out, err
		}
		out = append(out, fs.FileInfoToDirEntry(info))
	}
	d.read += len(names)
	if n > 0 && len(out) == 0 {
		return nil, io.EOF
	}
	return out, nil
}

type dirInfo string

func (d dirInfo) Name() string       { return string(d) }
func (d dirInfo) Size() int64        { return 0 }
func (d dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (d dirInfo) ModTime() time.Time { return time.Time{} }
func (d dirInfo) IsDir() bool        { return true }
func (d dirInfo) Sys() any           { return nil }
