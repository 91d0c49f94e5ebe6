package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/memo"
)

// The strategies of a copy operation, as Flux's ArtifactGenerator has them.
const (
	// CopyOverwrite replaces what an earlier operation put there (the
	// default).
	CopyOverwrite = "Overwrite"
	// CopyMerge merges a YAML file into the one already there, as Helm
	// merges values files (maps deeply, everything else replaced); with
	// nothing there it copies.
	CopyMerge = "Merge"
	// CopyExtract unpacks .tar.gz and .tgz archives into the destination.
	CopyExtract = "Extract"
)

// CopyOp is one copy operation of a generated artifact: Flux's
// ArtifactGenerator spec.artifacts[].copy[].
type CopyOp struct {
	// From is "@<alias>/<path or glob>". A plain path copies that file, or
	// that directory as a subdirectory of To; a glob ("*", "?", "[…]",
	// matched one path segment at a time, so "**" is "*") copies every
	// match, keeping its path — except that "<dir>/**" copies what is in
	// dir, without the dir/ prefix.
	From string
	// To is "@artifact/<path>"; a trailing slash makes it a directory.
	To string
	// Exclude lists doublestar globs matched against paths relative to
	// the source root and to From's literal prefix; one without a slash
	// also matches file names at any depth.
	Exclude []string
	// Strategy is CopyOverwrite (when empty), CopyMerge or CopyExtract.
	Strategy string
}

// GeneratedOptions configure a Generated source.
type GeneratedOptions struct {
	// Name names the artifact in errors and its URL (e.g.
	// "ExternalArtifact/flux-system/apps").
	Name string
	// Revision "@<alias>" gives the artifact that input's revision; empty
	// makes it "latest@<digest>", as source-watcher does.
	Revision string
	// CacheDir is where built artifacts are kept, one directory per digest
	// (default: <user cache dir>/gitopskit/generated).
	CacheDir string
}

// Generated is an artifact composed of other sources' files by copy
// operations: what Flux's source-watcher builds for each artifact of an
// ArtifactGenerator and serves as an ExternalArtifact. Inputs are read
// only through their artifacts' FS, so their ignore rules hold; the result
// has a revision and digest of its own, and equal contents give equal
// digests whatever the inputs' revisions.
type Generated struct {
	inputs map[string]Source
	ops    []CopyOp
	opts   GeneratedOptions
}

// NewGenerated returns the source for one generated artifact, with its
// inputs by alias.
func NewGenerated(inputs map[string]Source, ops []CopyOp, opts GeneratedOptions) *Generated {
	return &Generated{inputs: inputs, ops: ops, opts: opts}
}

func (g *Generated) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{g.opts.Name}, args...)...)
}

// Fetch fetches every input, applies the copy operations in order into a
// fresh directory and installs it in the cache under its digest. Nothing
// is installed unless every operation succeeds.
func (g *Generated) Fetch(ctx context.Context) (*Artifact, error) {
	if err := g.validate(); err != nil {
		return nil, err
	}
	aliases := make([]string, 0, len(g.inputs))
	for a := range g.inputs {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)
	arts := make([]*Artifact, len(aliases))
	var eg errgroup.Group
	eg.SetLimit(4)
	for i, a := range aliases {
		eg.Go(func() error {
			art, err := g.inputs[a].Fetch(ctx)
			if err != nil {
				return g.errorf("source @%s: %w", a, err)
			}
			arts[i] = art
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	byAlias := make(map[string]*Artifact, len(aliases))
	for i, a := range aliases {
		byAlias[a] = arts[i]
	}

	root, err := cacheDir(g.opts.CacheDir, "generated")
	if err != nil {
		return nil, g.errorf("cache: %w", err)
	}
	artifact := func(b *builtArtifact) *Artifact {
		rev := "latest@" + b.digest
		if alias, ok := strings.CutPrefix(g.opts.Revision, "@"); ok {
			rev = byAlias[alias].Revision
		}
		return &Artifact{URL: "generated://" + g.opts.Name, Revision: rev, Digest: b.digest, Path: b.dir, FS: newTreeFS(b.dir, b.entries)}
	}
	// The output is a function of the inputs' contents and the
	// operations: the same recipe in the same cache is built once.
	recipe := g.recipe(root, aliases, byAlias)
	if b, ok := builtArtifacts.Get(recipe); ok {
		if _, err := os.Stat(b.dir); err == nil {
			return artifact(b), nil
		}
		builtArtifacts.Delete(recipe)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, g.errorf("cache: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".tmp-")
	if err != nil {
		return nil, g.errorf("cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	stage, err := os.OpenRoot(tmp)
	if err != nil {
		return nil, g.errorf("cache: %w", err)
	}
	defer stage.Close()
	for _, op := range g.ops {
		if err := applyCopy(ctx, op, byAlias, stage); err != nil {
			return nil, g.errorf("copy from %q to %q: %w", op.From, op.To, err)
		}
	}
	entries, digest, err := scanDir(ctx, tmp, nil)
	if err != nil {
		return nil, g.errorf("%w", err)
	}
	dest := filepath.Join(root, strings.TrimPrefix(digest, "sha256:"))
	if err := os.Rename(tmp, dest); err != nil {
		if _, serr := os.Stat(dest); serr != nil {
			return nil, g.errorf("cache: %w", err)
		} // the same contents were built before: use them
	}
	b := &builtArtifact{dir: dest, digest: digest, entries: entries}
	builtArtifacts.Put(recipe, b)
	return artifact(b), nil
}

// builtArtifact is a generated artifact installed in a cache.
type builtArtifact struct {
	dir, digest string
	entries     []entry
}

// builtArtifacts keeps what Fetch built, by recipe, for the process.
var builtArtifacts = memo.New[string, *builtArtifact](256)

// recipe identifies what Fetch builds: the cache, each input's content
// digest and the copy operations.
func (g *Generated) recipe(root string, aliases []string, byAlias map[string]*Artifact) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode(root)
	for _, a := range aliases {
		_ = enc.Encode([]string{a, byAlias[a].Digest})
	}
	_ = enc.Encode(g.ops)
	return hex.EncodeToString(h.Sum(nil))
}

// validate checks the operations before anything is fetched.
func (g *Generated) validate() error {
	if len(g.ops) == 0 {
		return g.errorf("no copy operations")
	}
	if alias, ok := strings.CutPrefix(g.opts.Revision, "@"); ok && g.inputs[alias] == nil {
		return g.errorf("revision %q names no source", g.opts.Revision)
	} else if !ok && g.opts.Revision != "" {
		return g.errorf("revision %q is not of the form @<alias>", g.opts.Revision)
	}
	for _, op := range g.ops {
		alias, _, err := splitFrom(op.From)
		if err != nil {
			return g.errorf("copy from %q: %w", op.From, err)
		}
		if g.inputs[alias] == nil {
			return g.errorf("copy from %q: no source has the alias %q", op.From, alias)
		}
		if !strings.HasPrefix(op.To, "@artifact/") {
			return g.errorf("copy to %q: the destination must start with @artifact/", op.To)
		}
		for _, x := range op.Exclude {
			if !doublestar.ValidatePattern(x) {
				return g.errorf("copy from %q: exclude pattern %q does not parse", op.From, x)
			}
		}
		switch op.Strategy {
		case "", CopyOverwrite, CopyMerge, CopyExtract:
		default:
			return g.errorf("copy from %q: strategy %q is not one of Overwrite, Merge, Extract", op.From, op.Strategy)
		}
	}
	return nil
}

// splitFrom splits "@alias/pattern".
func splitFrom(from string) (alias, pattern string, err error) {
	rest, ok := strings.CutPrefix(from, "@")
	alias, pattern, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || alias == "" {
		return "", "", errors.New("the source must be @<alias>/<path>")
	}
	return alias, pattern, nil
}

// hasGlob reports whether p holds glob metacharacters.
func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[]") }

// applyCopy runs one copy operation into the staging root.
func applyCopy(ctx context.Context, op CopyOp, inputs map[string]*Artifact, stage *os.Root) error {
	alias, pattern, _ := splitFrom(op.From)
	src := inputs[alias].FS
	to := strings.TrimPrefix(op.To, "@artifact/")
	toDir := to == "" || strings.HasSuffix(to, "/")
	to = path.Clean("./" + to)
	if strings.HasPrefix(to, "../") || to == ".." {
		return errors.New("the destination leaves the artifact")
	}
	c := copier{ctx: ctx, op: op, src: src, stage: stage}

	if !hasGlob(pattern) {
		p := path.Clean("./" + pattern)
		if p == ".." || strings.HasPrefix(p, "../") {
			return errors.New("the source leaves its artifact")
		}
		info, err := fs.Stat(src, p)
		if err != nil {
			return fmt.Errorf("%s: not in source @%s", p, alias)
		}
		if info.IsDir() {
			if op.Strategy == CopyExtract {
				return fmt.Errorf("%s is a directory; Extract takes archives", p)
			}
			base := path.Base(p)
			if p == "." {
				base = "."
			}
			return c.copyTree(p, path.Join(to, base), p)
		}
		if c.excluded(p, ".") {
			return nil
		}
		if op.Strategy == CopyExtract {
			if !isArchive(p) {
				return fmt.Errorf("%s: Extract takes .tar.gz or .tgz archives", p)
			}
			return c.extract(p, to)
		}
		dest := to
		if toDir {
			dest = path.Join(to, path.Base(p))
		} else if fi, err := stage.Stat(filepath.FromSlash(to)); err == nil && fi.IsDir() {
			dest = path.Join(to, path.Base(p))
		}
		return c.copyFile(p, dest)
	}

	var matches []string
	var err error
	if op.Strategy == CopyExtract {
		matches, err = doublestar.Glob(src, pattern)
	} else {
		matches, err = fs.Glob(src, pattern)
	}
	if err != nil {
		return fmt.Errorf("glob %q: %w", pattern, err)
	}
	base := literalPrefix(pattern)
	var kept []string
	for _, m := range matches {
		if m != "." && m != ".." && !c.excluded(m, base) {
			kept = append(kept, m)
		}
	}
	if len(matches) == 0 {
		return fmt.Errorf("nothing in source @%s matches %q", alias, pattern)
	}
	if len(kept) == 0 {
		return fmt.Errorf("every match of %q in source @%s is excluded", pattern, alias)
	}
	prefix, recursive := strings.CutSuffix(pattern, "/**")
	for _, m := range kept {
		if op.Strategy == CopyExtract {
			if isArchive(m) {
				if err := c.extract(m, to); err != nil {
					return err
				}
			}
			continue
		}
		dest := path.Join(to, m)
		if rel, ok := strings.CutPrefix(m, prefix+"/"); recursive && ok {
			dest = path.Join(to, rel)
		}
		info, err := fs.Stat(src, m)
		if err != nil {
			return err
		}
		if info.IsDir() {
			err = c.copyTree(m, dest, base)
		} else {
			err = c.copyFile(m, dest)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// literalPrefix is the part of a pattern before its first glob segment.
func literalPrefix(pattern string) string {
	var parts []string
	for _, s := range strings.Split(path.Clean(pattern), "/") {
		if hasGlob(s) {
			break
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "."
	}
	return path.Join(parts...)
}

func isArchive(p string) bool { return strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz") }

// copier copies from one input's FS into the staging root.
type copier struct {
	ctx   context.Context
	op    CopyOp
	src   fs.FS
	stage *os.Root
}

// excluded matches p against the exclude patterns, relative to the source
// root and to base (From's literal prefix); a pattern with no slash also
// matches p's file name.
func (c *copier) excluded(p, base string) bool {
	candidates := []string{p}
	if base != "." {
		if rel, ok := strings.CutPrefix(p, base+"/"); ok {
			candidates = append(candidates, rel)
		}
	}
	for _, x := range c.op.Exclude {
		for _, cand := range candidates {
			if doublestar.MatchUnvalidated(x, cand) {
				return true
			}
		}
		if !strings.Contains(x, "/") && doublestar.MatchUnvalidated(x, path.Base(p)) {
			return true
		}
	}
	return false
}

// copyTree copies directory dir (and everything below it that is not
// excluded) to dest.
func (c *copier) copyTree(dir, dest, base string) error {
	return fs.WalkDir(c.src, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := c.ctx.Err(); err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		if dir == "." {
			rel = p
		}
		target := path.Join(dest, rel)
		if p != dir && c.excluded(p, base) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return c.stage.MkdirAll(filepath.FromSlash(target), 0o755)
		}
		return c.copyFile(p, target)
	})
}

// copyFile copies one file, or merges it into the one at dest for Merge.
func (c *copier) copyFile(p, dest string) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	b, err := fs.ReadFile(c.src, p)
	if err != nil {
		return err
	}
	target := filepath.FromSlash(dest)
	if c.op.Strategy == CopyMerge {
		if have, err := c.stage.ReadFile(target); err == nil {
			if b, err = mergeYAML(have, b); err != nil {
				return fmt.Errorf("merge %s into %s: %w", p, dest, err)
			}
		}
	}
	if dir := filepath.Dir(target); dir != "." {
		if err := c.stage.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	mode := os.FileMode(0o644)
	if info, err := fs.Stat(c.src, p); err == nil && info.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	return c.stage.WriteFile(target, b, mode)
}

// extract unpacks an archive of the source into dest.
func (c *copier) extract(p, dest string) error {
	b, err := fs.ReadFile(c.src, p)
	if err != nil {
		return err
	}
	if err := c.stage.MkdirAll(filepath.FromSlash(dest), 0o755); err != nil {
		return err
	}
	if _, err := extractTarGz(bytes.NewReader(b), filepath.Join(c.stage.Name(), filepath.FromSlash(dest))); err != nil {
		return fmt.Errorf("extract %s: %w", p, err)
	}
	return nil
}

// mergeYAML merges src into dst as Helm merges values files: maps deeply,
// everything else (lists included) replaced by src.
func mergeYAML(dst, src []byte) ([]byte, error) {
	var d, s map[string]any
	if err := yaml.Unmarshal(dst, &d); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(src, &s); err != nil {
		return nil, err
	}
	return yaml.Marshal(mergeMaps(d, s))
}

func mergeMaps(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeMaps(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}
