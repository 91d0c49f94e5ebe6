package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/gitopskit/gitopskit/internal/filelock"
)

// GitOptions configure a Git source. The zero value fetches the remote's
// HEAD, shallow, with no credentials, into the default cache.
type GitOptions struct {
	Ref  GitRef
	Auth GitAuth
	// Ignore holds gitignore-style rules replacing the default exclusions,
	// as DirOptions.Ignore.
	Ignore string
	// FullHistory fetches all history instead of only the commit needed.
	FullHistory bool
	// CacheDir holds fetched objects and checked-out trees; default
	// <user cache dir>/gitopskit/git. It may be shared by processes.
	CacheDir string
	// Timeout bounds one Fetch (GitRepository spec.timeout); zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// Git is a Git repository as a source, fetched with go-git over a local
// path, file://, http(s):// or SSH.
//
// Fetches are cached: a fetch lists the remote's refs (one request) and,
// when the ref still names a commit whose tree is in the cache, makes no
// clone at all. Otherwise it fetches into a cached bare repository, so a ref
// that moved transfers only what changed, and writes the commit's tree to
// the cache, where it is kept read-only and shared by every URL and ref that
// names the same commit.
type Git struct {
	url  string // without credentials
	opts GitOptions
}

// NewGit returns a source for the repository at url. Credentials written in
// an http(s) URL are moved into the options and never shown.
func NewGit(url string, opts GitOptions) *Git {
	clean, user, pass := splitCredentials(url)
	if user != "" || pass != "" {
		if opts.Auth.Username == "" && opts.Auth.Password == "" {
			opts.Auth.Username, opts.Auth.Password = user, pass
		}
	}
	return &Git{url: clean, opts: opts}
}

// URL returns the repository URL, without credentials.
func (g *Git) URL() string { return g.url }

func (g *Git) errorf(format string, args ...any) error {
	return fmt.Errorf("git %s: "+format, append([]any{g.url}, args...)...)
}

func (g *Git) cacheDir() (string, error) { return cacheDir(g.opts.CacheDir, "git") }

// cacheDir returns custom, or <user cache dir>/gitopskit/<kind>.
func cacheDir(custom, kind string) (string, error) {
	if custom != "" {
		return custom, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "gitopskit", kind), nil
}

// Fetch resolves the ref and returns the commit's tree as an artifact,
// within GitOptions.Timeout.
func (g *Git) Fetch(ctx context.Context) (*Artifact, error) {
	ctx, done := within(ctx, g.opts.Timeout)
	art, err := g.fetchArtifact(ctx)
	return art, done(err)
}

func (g *Git) fetchArtifact(ctx context.Context) (*Artifact, error) {
	ref := g.opts.Ref
	if err := ref.validate(); err != nil {
		return nil, g.errorf("%w", err)
	}
	auth, err := g.opts.Auth.transportAuth(g.url)
	if err != nil {
		return nil, g.errorf("%w", err)
	}
	root, err := g.cacheDir()
	if err != nil {
		return nil, g.errorf("cache: %w", err)
	}
	rulesKey := hashString(g.opts.Ignore)

	var res resolved
	if ref.Commit != "" && ref.Branch == "" {
		h := plumbing.NewHash(ref.Commit)
		res = resolved{hash: h, commit: h}
	} else {
		refs, err := g.list(ctx, auth)
		if err != nil {
			return nil, err
		}
		if res, err = resolveRef(ref, refs); err != nil {
			return nil, g.errorf("%w", err)
		}
		if ref.Commit != "" {
			h := plumbing.NewHash(ref.Commit)
			res.hash, res.commit = h, h
		}
	}
	if a, ok := loadTree(root, res.commit, rulesKey); ok {
		return g.artifact(a, res.label, res.commit), nil
	}

	repoDir := filepath.Join(root, "repos", hashString(g.url))
	if err := os.MkdirAll(filepath.Dir(repoDir), 0o755); err != nil {
		return nil, g.errorf("cache: %w", err)
	}
	unlock, err := filelock.Lock(ctx, repoDir+".lock", nil)
	if err != nil {
		return nil, g.errorf("%w", err)
	}
	defer unlock()

	repo, err := g.fetch(ctx, repoDir, res, auth)
	if err != nil {
		return nil, err
	}
	commit, err := peelToCommit(repo, res.hash)
	if err != nil {
		return nil, g.errorf("%s: %w", describe(ref, res), err)
	}
	if a, ok := loadTree(root, commit.Hash, rulesKey); ok {
		return g.artifact(a, res.label, commit.Hash), nil
	}
	a, err := writeTree(ctx, root, commit, g.opts.Ignore, rulesKey)
	if err != nil {
		return nil, g.errorf("commit %s: %w", commit.Hash, err)
	}
	return g.artifact(a, res.label, commit.Hash), nil
}

func describe(ref GitRef, res resolved) string {
	if res.label != "" {
		return res.label
	}
	return ref.Commit
}

// list reads the remote's refs: the only request a no-op fetch makes.
func (g *Git) list(ctx context.Context, auth transport.AuthMethod) ([]*plumbing.Reference, error) {
	remote := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{g.url}})
	refs, err := remote.ListContext(ctx, &git.ListOptions{
		Auth:          auth,
		CABundle:      g.opts.Auth.CABundle,
		ClientCert:    g.opts.Auth.TLSClientCert,
		ClientKey:     g.opts.Auth.TLSClientKey,
		PeelingOption: git.AppendPeeled,
	})
	if err != nil {
		return nil, g.errorf("list refs: %w", err)
	}
	return refs, nil
}

// fetch brings the objects for res into the cached bare repository,
// recreating it if it is unreadable.
func (g *Git) fetch(ctx context.Context, repoDir string, res resolved, auth transport.AuthMethod) (*git.Repository, error) {
	repo, err := git.PlainOpen(repoDir)
	if err == nil {
		_, err = repo.Remote("origin")
	}
	if err != nil { // new, or unreadable: start over
		os.RemoveAll(repoDir)
		if repo, err = git.PlainInit(repoDir, true); err != nil {
			return nil, g.errorf("cache: %w", err)
		}
		if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{g.url}}); err != nil {
			return nil, g.errorf("cache: %w", err)
		}
	}
	if _, err := repo.CommitObject(res.commit); err == nil {
		return repo, nil // already here, e.g. another ref or URL fetched it
	}
	var specs []config.RefSpec
	depth := 0
	switch {
	case res.refName == "": // a bare commit: every branch, whole history
		specs = []config.RefSpec{"+refs/heads/*:refs/heads/*"}
	default:
		specs = []config.RefSpec{config.RefSpec(fmt.Sprintf("+%s:%s", res.refName, res.refName))}
		// Shallow the first time only: once the ref is here, a fetch with no
		// depth sends what is new since it, as git fetch does in a shallow
		// clone, while a depth would make the server send a whole tree again.
		_, notHere := repo.Reference(res.refName, false)
		if !g.opts.FullHistory && g.opts.Ref.Commit == "" && notHere != nil {
			depth = 1
		}
	}
	err = repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   specs,
		Depth:      depth,
		Auth:       auth,
		CABundle:   g.opts.Auth.CABundle,
		ClientCert: g.opts.Auth.TLSClientCert,
		ClientKey:  g.opts.Auth.TLSClientKey,
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		if ctx.Err() != nil {
			return nil, g.errorf("fetch: %w", ctx.Err())
		}
		return nil, g.errorf("fetch %s: %w", describe(g.opts.Ref, res), err)
	}
	return repo, nil
}

func peelToCommit(repo *git.Repository, h plumbing.Hash) (*object.Commit, error) {
	if tag, err := repo.TagObject(h); err == nil {
		return tag.Commit()
	}
	c, err := repo.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("commit %s not found", h)
	}
	return c, nil
}

func (g *Git) artifact(t *cachedTree, label string, commit plumbing.Hash) *Artifact {
	rev := "sha1:" + commit.String()
	if label != "" {
		rev = label + "@" + rev
	}
	return &Artifact{URL: g.url, Revision: rev, Digest: t.Digest, Path: t.path, FS: os.DirFS(t.path)}
}

func hashString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// cachedTree is a commit's tree written to the cache.
type cachedTree struct {
	Digest string `json:"digest"`
	path   string
}

func treeCacheDir(root string, commit plumbing.Hash, rulesKey string) string {
	return filepath.Join(root, "trees", commit.String()+"-"+rulesKey)
}

func loadTree(root string, commit plumbing.Hash, rulesKey string) (*cachedTree, bool) {
	dir := treeCacheDir(root, commit, rulesKey)
	var t cachedTree
	if !readMeta(dir, &t) || t.Digest == "" {
		return nil, false
	}
	t.path = filepath.Join(dir, "tree")
	return &t, true
}

// writeTree writes the commit's tree, less what the ignore rules exclude,
// to a temporary directory and renames it into place with its digest, so
// the cache never holds a partial tree.
func writeTree(ctx context.Context, root string, commit *object.Commit, ignore, rulesKey string) (*cachedTree, error) {
	tree, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	gt := &gitTree{root: tree, files: map[string]*object.File{}}
	entries, err := listTree(ctx, gt, baseRules(ignore))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(root, "trees"), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(root, "trees"), ".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	d := newDigester()
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := gt.write(filepath.Join(tmp, "tree"), e, d); err != nil {
			return nil, fmt.Errorf("%s: %w", e.path, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(tmp, "tree"), 0o755); err != nil {
		return nil, err
	}
	t := &cachedTree{Digest: d.sum()}
	if err := writeMeta(tmp, t); err != nil {
		return nil, err
	}
	dest := treeCacheDir(root, commit.Hash, rulesKey)
	if err := os.Rename(tmp, dest); err != nil {
		if loaded, ok := loadTree(root, commit.Hash, rulesKey); ok {
			return loaded, nil // written meanwhile by another fetch
		}
		return nil, err
	}
	t.path = filepath.Join(dest, "tree")
	return t, nil
}

// gitTree reads a commit's tree for listTree.
type gitTree struct {
	root  *object.Tree
	files map[string]*object.File // by path, filled by readDir
}

func (t *gitTree) dir(rel string) (*object.Tree, error) {
	if rel == "" {
		return t.root, nil
	}
	return t.root.Tree(rel)
}

func (t *gitTree) readDir(rel string) ([]dirent, error) {
	tree, err := t.dir(rel)
	if err != nil {
		return nil, err
	}
	out := make([]dirent, 0, len(tree.Entries))
	for _, e := range tree.Entries {
		p := path.Join(rel, e.Name)
		var de dirent
		switch e.Mode {
		case filemode.Dir:
			out = append(out, dirent{name: e.Name, isDir: true})
			continue
		case filemode.Regular, filemode.Deprecated:
			de = dirent{name: e.Name, kind: regularFile}
		case filemode.Executable:
			de = dirent{name: e.Name, kind: execFile}
		case filemode.Symlink:
			de = dirent{name: e.Name, kind: symlink}
		default:
			continue // submodules are not part of the tree's content
		}
		f, err := tree.TreeEntryFile(&e)
		if err != nil {
			return nil, err
		}
		t.files[p] = f
		de.size = f.Size
		if de.kind == symlink {
			b, err := readBlob(&f.Blob)
			if err != nil {
				return nil, err
			}
			de.target, de.size = string(b), 0
		}
		out = append(out, de)
	}
	return out, nil
}

func (t *gitTree) readFile(rel string) ([]byte, error) {
	f, err := t.root.File(rel)
	if err != nil {
		return nil, fs.ErrNotExist
	}
	s, err := f.Contents()
	return []byte(s), err
}

// write writes one entry below dir, feeding the digester as it goes.
func (t *gitTree) write(dir string, e entry, d *digester) error {
	dest := filepath.Join(dir, filepath.FromSlash(e.path))
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if e.kind == symlink {
		if err := d.add(e, nil); err != nil {
			return err
		}
		return os.Symlink(e.target, dest)
	}
	r, err := t.files[e.path].Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	mode := os.FileMode(0o444)
	if e.kind == execFile {
		mode = 0o555
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if err := d.add(e, io.TeeReader(r, f)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readBlob(b *object.Blob) ([]byte, error) {
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
