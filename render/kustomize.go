package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	fluxfs "github.com/fluxcd/pkg/kustomize/filesys"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/yamlbound"
	"github.com/gitopskit/gitopskit/source"
)

// originAnnotation is where kustomize records each object's source file
// when buildMetadata includes originAnnotations.
const originAnnotation = "config.kubernetes.io/origin"

// KustomizeOptions configure the Kustomize renderer. The zero value works.
type KustomizeOptions struct {
	// Values resolves postBuild.substituteFrom references. Nil means every
	// reference is missing (an error unless it is optional).
	Values ValueSource
	// Cache, if set, keeps rendered units: an unchanged unit (same
	// artifact digest, spec and resolved variables) is not built again.
	Cache *Cache
	// StrictSubstitution makes a ${var} with no value and no default an
	// error, as Flux's StrictPostBuildSubstitutions feature gate does;
	// otherwise it becomes the empty string, as Flux does by default.
	StrictSubstitution bool
	// AllowRemoteBases lets kustomize fetch what a kustomization names
	// outside the artifact (remote bases: https://, github.com/…, git::…).
	// Without it every resource, base and component must be in the
	// artifact, and nothing is fetched: a render makes no network access.
	// Clones go to the system's temporary directory and are removed when
	// the build ends.
	AllowRemoteBases bool
	// RemoteTimeout bounds a build that may fetch remote bases (zero:
	// source.DefaultTimeout). Kustomize's fetches take no context; past
	// the bound the unit fails and the build is left to end on its own.
	RemoteTimeout time.Duration
	// IgnoreUnimplemented renders a Kustomization that uses a field
	// gitopskit does not implement and that would change what is applied
	// or where (spec.decryption, spec.kubeConfig), with a warning, instead
	// of failing it.
	IgnoreUnimplemented bool
	// DecryptionKeys are SOPS keys (as in Flux's decryption Secret:
	// *.agekey age identities, *.asc armored OpenPGP private keys) for
	// units with spec.decryption, added to those of the Secret its
	// secretRef names (read through Values). A SOPS-encrypted Secret a
	// unit reads is decrypted in memory, its MAC checked; an encrypted file
	// with no key that opens it, or in a unit without spec.decryption,
	// fails the unit: ciphertext is never applied.
	DecryptionKeys map[string][]byte
	// Decryptor decrypts them (render/sops.Decryptor{}); without one a
	// unit with spec.decryption fails, saying so.
	Decryptor Decryptor
}

// Kustomize renders Flux Kustomizations with kustomize (krusty), the way
// kustomize-controller does: a path with no kustomization.yaml gets one
// generated from the manifests and sub-directories in it; the spec's
// targetNamespace, namePrefix, nameSuffix, patches, images and components
// are written into the kustomization; commonMetadata and postBuild
// substitutions are applied to the output. Builds read the artifact in
// place through a root-restricted file system (nothing outside the
// artifact is read) with the generated kustomization held in memory, so
// artifacts stay read-only and no copy is made.
//
// Render is safe for concurrent use. Kustomize keeps its OpenAPI schema in
// a process-wide variable; builds of artifacts whose kustomizations set the
// openapi field run one at a time, all others run concurrently.
type Kustomize struct {
	opts  KustomizeOptions
	scans *schemaScans
}

// schemaScans remembers, per artifact digest, whether some kustomization
// of the artifact sets the openapi field, so each artifact is walked once.
type schemaScans struct {
	mu   sync.Mutex
	seen map[string]bool
}

// NewKustomize returns a Kustomize renderer.
func NewKustomize(opts KustomizeOptions) *Kustomize {
	return &Kustomize{opts: opts, scans: &schemaScans{seen: map[string]bool{}}}
}

// withValues returns a renderer reading values from vs and sharing k's
// scans, for callers that need a value source per unit.
func (k *Kustomize) withValues(vs ValueSource) *Kustomize {
	opts := k.opts
	opts.Values = vs
	return &Kustomize{opts: opts, scans: k.scans}
}

// schemaLock orders kustomize builds around its global OpenAPI schema:
// readers share it, a build that sets a schema has it alone.
var schemaLock sync.RWMutex

// schemaParsed says kyaml's default OpenAPI schema is parsed (guarded by
// schemaLock). kyaml parses it on first use, under its own lock, but its
// namespace-scope lookup reads the parsed maps without that lock, so the
// first two builds of a process (or the first two after a build with a
// schema of its own) race. The schema is parsed here under schemaLock
// before any shared build reads it.
var schemaParsed bool

// parseSchema parses kyaml's default schema once; schemaLock is held.
func parseSchema() {
	if !schemaParsed {
		openapi.Schema()
		schemaParsed = true
	}
}

// Render builds the Kustomization ks (a Flux Kustomization object of any
// version) from the artifact. Errors name the unit and, where known, the
// file.
func (k *Kustomize) Render(ctx context.Context, art *source.Artifact, ks *unstructured.Unstructured) (*Result, error) {
	unit := UnitID(ks)
	fail := func(format string, args ...any) (*Result, error) {
		return nil, fmt.Errorf("%s: "+format, append([]any{unit}, args...)...)
	}
	spec, unimplemented, err := kustomizationSpec(ks)
	if err != nil {
		return fail("%w", err)
	}
	warnings, err := refuseUnimplemented(unimplemented, k.opts.IgnoreUnimplemented)
	if err != nil {
		return fail("%w", err)
	}
	p, ok := cleanPath(spec.Path)
	if !ok {
		return fail("path %q leaves the source", spec.Path)
	}
	if fi, err := fs.Stat(art.FS, p); err != nil || !fi.IsDir() {
		return fail("path %q not found in %s", spec.Path, art.URL)
	}
	vars, err := substitutionVars(ctx, k.opts, ks, spec.PostBuild)
	if err != nil {
		return fail("%w", err)
	}
	keys, keysDigest, err := k.unitKeys(ctx, ks, spec.Decryption)
	if err != nil {
		return fail("%w", err)
	}
	key := cacheKey("kustomize", art.Digest, art.Revision, unit, ks.Object["spec"], vars, k.opts.StrictSubstitution, keysDigest)
	if res, ok := k.opts.Cache.get(key); ok {
		return res, nil
	}
	// kustomize works in the directory a linked path resolves to; errors
	// still name the path as written.
	dir, real, err := resolveDir(art.Path, p)
	if err != nil {
		return fail("path %q: %w", spec.Path, err)
	}
	where := p
	if real != p {
		where = fmt.Sprintf("%s (a link to %s)", p, real)
	}

	// Flux's generator decodes the manifests of a path without a
	// kustomization file with kustomize's parser, which expands aliases
	// without bound: check those first.
	own, err := checkInputs(ctx, art.FS, real)
	if err != nil {
		return fail("%w", err)
	}
	gen := fluxkustomize.NewGenerator(art.Path, *ks)
	manifest, kfile, _, err := gen.GenerateManifest(dir)
	if err != nil {
		if own != "" { // what goes wrong then is about that file
			return fail("%s: %w", own, relErr(err, art.Path))
		}
		return fail("%s: %w", where, relErr(err, art.Path))
	}
	manifest, keepOrigin, deprecated, err := withOriginAnnotations(manifest)
	if err != nil {
		return fail("%s: %w", where, err)
	}
	warnings = append(warnings, deprecated...)
	// Remote bases are cloned to the temporary directory, which only the
	// build variant of the secure file system lets kustomize use (and
	// remove again).
	makeDisk := fluxfs.MakeFsOnDiskSecure
	if k.opts.AllowRemoteBases {
		makeDisk = fluxfs.MakeFsOnDiskSecureBuild
	}
	disk, err := makeDisk(art.Path)
	if err != nil {
		return fail("%w", err)
	}
	mem := fluxfs.MakeFsInMemory(disk)
	if err := mem.WriteFile(kfile, manifest); err != nil {
		return fail("%w", err)
	}
	if !k.opts.AllowRemoteBases {
		if err := localOnly(guardedFS{FileSystem: mem, ctx: ctx, root: art.Path, read: &readFiles{}}, dir, art.Path, map[string]bool{}); err != nil {
			return fail("%w", err)
		}
	}
	exclusive := k.setsSchema(art)
	read := &readFiles{}
	resMap, err := k.boundedBuild(ctx, func(ctx context.Context) (resmap.ResMap, error) {
		defer read.removeClones()
		return buildLocked(guardedFS{FileSystem: mem, ctx: ctx, root: art.Path, read: read, keys: keys}, dir, exclusive)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err != nil {
		if berr := blame(mem, read.list(), art.Path); berr != nil {
			return fail("%w", berr)
		}
		if real != p {
			return fail("%s: %w", where, relErr(err, art.Path))
		}
		return fail("%w", relErr(err, art.Path))
	}

	res := &Result{Unit: unit, Warnings: warnings}
	var rejected []RejectedUnit
	seen := map[string]bool{}
	for _, r := range resMap.Resources() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		u, err := resourceObject(r)
		if err != nil {
			// A document that parses but is not data (a key twice):
			// a Flux unit fails alone; anything else fails this unit.
			file := originFile(r.GetAnnotations(), p)
			id := &unstructured.Unstructured{}
			id.SetAPIVersion(r.GetApiVersion())
			id.SetKind(r.GetKind())
			id.SetName(r.GetName())
			id.SetNamespace(r.GetNamespace())
			if !isFluxUnit(id) {
				return fail("%s: %s: %w", file, objectKey(id), err)
			}
			rejected = append(rejected, RejectedUnit{Object: id, File: file, Err: fmt.Errorf("%s: %w", file, err)})
			continue
		}
		file := originFile(u.GetAnnotations(), p)
		if !keepOrigin {
			removeAnnotation(u, originAnnotation)
		}
		id := objectKey(u)
		if seen[id] {
			return fail("%s: object %s appears twice", file, id)
		}
		seen[id] = true
		res.Objects = append(res.Objects, Object{Unstructured: u, Provenance: Provenance{Unit: unit, File: file, Revision: art.Revision}})
	}
	res.Rejected = rejected
	if err := applyCommonMetadata(spec.CommonMetadata, res.Objects); err != nil {
		return fail("%w", err)
	}
	if err := substitute(vars, k.opts.StrictSubstitution, res.Objects); err != nil {
		return fail("%w", err)
	}
	k.opts.Cache.put(key, res)
	return res, nil
}

// boundedBuild runs build; when remote bases may be fetched, within
// RemoteTimeout: kustomize's own network calls take no context, so the
// build runs apart and is given up on at the bound.
func (k *Kustomize) boundedBuild(ctx context.Context, build func(context.Context) (resmap.ResMap, error)) (resmap.ResMap, error) {
	if !k.opts.AllowRemoteBases {
		return build(ctx)
	}
	timeout := k.opts.RemoteTimeout
	if timeout <= 0 {
		timeout = source.DefaultTimeout
	}
	bctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		m   resmap.ResMap
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := build(bctx)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		return r.m, r.err
	case <-bctx.Done():
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("fetching remote bases: gave up after %s (KustomizeOptions.RemoteTimeout, LoadOptions.RemoteBasesTimeout)", timeout)
	}
}

// buildLocked is build under schemaLock: exclusively (resetting the
// schema after) for a build that sets its own openapi schema.
func buildLocked(fsys filesys.FileSystem, dir string, exclusive bool) (resmap.ResMap, error) {
	if exclusive {
		schemaLock.Lock()
		defer func() {
			openapi.ResetOpenAPI()
			schemaParsed = false
			parseSchema()
			schemaLock.Unlock()
		}()
		return build(fsys, dir)
	}
	readSchema()
	defer schemaLock.RUnlock()
	return build(fsys, dir)
}

// readSchema takes schemaLock to read kustomize's schema, parsed first if
// it is not yet.
func readSchema() {
	schemaLock.RLock()
	if schemaParsed {
		return
	}
	schemaLock.RUnlock()
	schemaLock.Lock()
	parseSchema()
	schemaLock.Unlock()
	schemaLock.RLock()
}

// build runs krusty, turning its panics on odd input into errors.
func build(fsys filesys.FileSystem, dir string) (m resmap.ResMap, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize failed: %v", r)
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{
		// Files outside the kustomization's directory may be read, as in
		// Flux; the file system itself refuses anything outside the
		// artifact root.
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	return k.Run(fsys, dir)
}

// withOriginAnnotations makes kustomize record each object's file, and
// reports whether the user asked for that annotation to stay, and the
// deprecated fields the kustomization uses. (Kustomize also prints those to
// standard error itself; a Result carries them as warnings.)
func withOriginAnnotations(manifest []byte) ([]byte, bool, []string, error) {
	var kus kustypes.Kustomization
	if err := yaml.Unmarshal(manifest, &kus); err != nil {
		return nil, false, nil, err
	}
	var deprecated []string
	if msgs := kus.CheckDeprecatedFields(); msgs != nil {
		for _, m := range *msgs {
			deprecated = append(deprecated, "kustomization: "+strings.TrimPrefix(m, "# Warning: "))
		}
	}
	for _, m := range kus.BuildMetadata {
		if m == kustypes.OriginAnnotations {
			return manifest, true, deprecated, nil
		}
	}
	kus.BuildMetadata = append(kus.BuildMetadata, kustypes.OriginAnnotations)
	out, err := yaml.Marshal(kus)
	return out, false, deprecated, err
}

// originFile reads the file an object came from (relative to the artifact
// root) from kustomize's origin annotation.
func originFile(annotations map[string]string, unitPath string) string {
	var origin struct {
		Path         string `json:"path"`
		ConfiguredIn string `json:"configuredIn"`
	}
	raw := annotations[originAnnotation]
	if raw == "" || yaml.Unmarshal([]byte(raw), &origin) != nil {
		return ""
	}
	p := origin.Path
	if p == "" {
		p = origin.ConfiguredIn
	}
	if p == "" {
		return ""
	}
	return path.Join(unitPath, p)
}

func removeAnnotation(u *unstructured.Unstructured, key string) {
	a := u.GetAnnotations()
	if _, ok := a[key]; !ok {
		return
	}
	delete(a, key)
	if len(a) == 0 {
		a = nil
	}
	u.SetAnnotations(a)
}

// objectKey names an object as Kind[.group]/[namespace/]name.
func objectKey(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	s := gvk.Kind
	if gvk.Group != "" {
		s += "." + gvk.Group
	}
	if ns := u.GetNamespace(); ns != "" {
		s += "/" + ns
	}
	return s + "/" + u.GetName()
}

// relErr shortens absolute artifact paths in kustomize's errors to paths
// relative to the artifact root.
func relErr(err error, root string) error {
	msg := strings.ReplaceAll(err.Error(), root+string(filepath.Separator), "")
	return errors.New(strings.ReplaceAll(msg, root, "."))
}

// setsSchema reports whether any kustomization file of the artifact sets
// the openapi field, remembering the answer per artifact digest.
func (k *Kustomize) setsSchema(art *source.Artifact) bool {
	k.scans.mu.Lock()
	v, ok := k.scans.seen[art.Digest]
	k.scans.mu.Unlock()
	if ok {
		return v
	}
	found := false
	names := konfig.RecognizedKustomizationFileNames()
	_ = fs.WalkDir(art.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || found || d.IsDir() {
			return nil
		}
		for _, n := range names {
			if d.Name() == n {
				b, err := fs.ReadFile(art.FS, p)
				if err == nil && bytes.Contains(b, []byte("openapi:")) {
					found = true
				}
			}
		}
		return nil
	})
	k.scans.mu.Lock()
	k.scans.seen[art.Digest] = found
	k.scans.mu.Unlock()
	return found
}

// localOnly checks, before kustomize runs, that every resource, base and
// component the kustomization in dir names (and, in turn, theirs) is a
// file or directory of the artifact: kustomize fetches whatever it cannot
// find locally, so a name that is not there would go to the network.
func localOnly(fsys filesys.FileSystem, dir, root string, seen map[string]bool) error {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	var kfile string
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if p := filepath.Join(dir, n); fsys.Exists(p) && !fsys.IsDir(p) {
			kfile = p
			break
		}
	}
	if kfile == "" {
		return nil
	}
	b, err := fsys.ReadFile(kfile)
	if err != nil {
		return err
	}
	var kus kustypes.Kustomization
	if err := yaml.Unmarshal(b, &kus); err != nil {
		return fmt.Errorf("%s: %w", relPath(kfile, root), err)
	}
	refs := append(append(append([]string(nil), kus.Resources...), kus.Bases...), kus.Components...)
	for _, r := range refs {
		p := r
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, r)
		}
		if rel := relPath(p, root); rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%s: %q is not in or below the source root", relPath(kfile, root), r)
		}
		if !fsys.Exists(p) {
			return fmt.Errorf("%s: %q is not a file or directory of the source; remote bases are not fetched (KustomizeOptions.AllowRemoteBases, LoadOptions.AllowRemoteBases)", relPath(kfile, root), r)
		}
		if fsys.IsDir(p) {
			if err := localOnly(fsys, p, root, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// guardedFS is the file system kustomize reads a unit through: every file
// it reads is checked for YAML aliases that expand beyond a bound (which
// kustomize would expand in memory), and a canceled ctx stops the build at
// its next read.
type guardedFS struct {
	filesys.FileSystem
	ctx  context.Context
	root string
	read *readFiles
	keys FileDecryptor // nil: the unit decrypts nothing
}

// CleanedAbs and RemoveAll see the clones of remote bases: each is
// removed when the build ends, whatever happened (kustomize's own cleanup
// removes them from the in-memory layer only).
func (g guardedFS) CleanedAbs(name string) (filesys.ConfirmedDir, string, error) {
	g.read.clone(name)
	return g.FileSystem.CleanedAbs(name)
}

func (g guardedFS) RemoveAll(name string) error {
	if g.read.clone(name) {
		return os.RemoveAll(name)
	}
	return g.FileSystem.RemoveAll(name)
}

func (g guardedFS) ReadFile(name string) ([]byte, error) {
	if err := g.ctx.Err(); err != nil {
		return nil, err
	}
	g.read.add(name)
	g.read.clone(name)
	b, err := g.FileSystem.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if err := yamlbound.Check(b); err != nil {
		return nil, fmt.Errorf("%s: %w", relPath(name, g.root), err)
	}
	if isKustomizationFile(name) {
		g.read.secretGeneratorInputs(name, b)
	}
	if sopsEncrypted(b) {
		if b, err = decryptSOPS(name, b, g.keys, g.read.isSecretInput(name)); err != nil {
			return nil, fmt.Errorf("%s: %w", relPath(name, g.root), err)
		}
	}
	return b, nil
}

func isKustomizationFile(name string) bool {
	return slices.Contains(konfig.RecognizedKustomizationFileNames(), filepath.Base(name))
}

// checkInputs returns the kustomization file of dir (a path of fsys), if
// it has one, and otherwise checks for alias bombs the YAML files under dir,
// which Flux's generator decodes with kustomize's unbounded parser.
func checkInputs(ctx context.Context, fsys fs.FS, dir string) (string, error) {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if fi, err := fs.Stat(fsys, path.Join(dir, n)); err == nil && !fi.IsDir() {
			return path.Join(dir, n), nil
		}
	}
	return "", fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if ext := path.Ext(p); d.IsDir() || (ext != ".yaml" && ext != ".yml") {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if err := yamlbound.Check(b); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	})
}

// resolveDir is the directory of path p (slash, relative to root) with
// symlinks resolved, and that as a slash path relative to root; a link out
// of root is an error.
func resolveDir(root, p string) (dir, rel string, err error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", "", err
	}
	target, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(p)))
	if err != nil {
		return "", "", err
	}
	r, err := filepath.Rel(realRoot, target)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", "", errors.New("links outside the source")
	}
	return filepath.Join(root, r), path.Clean(filepath.ToSlash(r)), nil
}

// relPath is p relative to the artifact root, for messages.
func relPath(p, root string) string {
	if rel, err := filepath.Rel(root, p); err == nil {
		return filepath.ToSlash(rel)
	}
	return p
}
