package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/yamlbound"
)

// RejectedUnit is a Flux unit object (a Kustomization or HelmRelease) in a
// unit's output that could not be read — a key given twice, say. It is left
// out of the output, which stands without it, and the unit it defines
// fails with Err: one broken document costs one unit, not the whole tree.
type RejectedUnit struct {
	// Object has only the identity (apiVersion, kind, name, namespace).
	Object *unstructured.Unstructured
	// File is relative to the artifact root.
	File string
	Err  error
}

// isFluxUnit reports whether o is a Kustomization or HelmRelease.
func isFluxUnit(o *unstructured.Unstructured) bool {
	gk := o.GroupVersionKind().GroupKind()
	return gk == schema.GroupKind{Group: KustomizeGroup, Kind: "Kustomization"} || gk == schema.GroupKind{Group: HelmGroup, Kind: "HelmRelease"}
}

// readFiles records the files a build read, in order, to find the one a
// build error is about, and the clones of remote bases it made, to remove.
type readFiles struct {
	mu     sync.Mutex
	names  []string
	clones map[string]bool
	// secrets are the files secretGenerators of the kustomizations read
	// so far take (files and envs): SOPS-encrypted, they are decrypted in
	// their own format.
	secrets map[string]bool
}

// secretGeneratorInputs records the files and env files the
// secretGenerators of the kustomization file name (content b) read.
func (r *readFiles) secretGeneratorInputs(name string, b []byte) {
	var kus kustypes.Kustomization
	if sigsyaml.Unmarshal(b, &kus) != nil {
		return // kustomize reports it
	}
	dir := filepath.Dir(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secrets == nil {
		r.secrets = map[string]bool{}
	}
	for _, g := range kus.SecretGenerator {
		files := append(slices.Clone(g.FileSources), g.EnvSources...)
		if g.EnvSource != "" {
			files = append(files, g.EnvSource)
		}
		for _, f := range files {
			if _, p, ok := strings.Cut(f, "="); ok {
				f = p // key=path
			}
			if !filepath.IsAbs(f) {
				f = filepath.Join(dir, f)
			}
			r.secrets[filepath.Clean(f)] = true
		}
	}
}

func (r *readFiles) isSecretInput(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.secrets[filepath.Clean(name)]
}

// clone records the clone directory name is in, if it is in one (a
// kustomize-* directory of the system's temporary directory), and reports
// whether it is.
func (r *readFiles) clone(name string) bool {
	tmp := os.TempDir()
	rel, err := filepath.Rel(tmp, name)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	top := strings.SplitN(rel, string(filepath.Separator), 2)[0]
	if !strings.HasPrefix(top, "kustomize-") {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.clones == nil {
		r.clones = map[string]bool{}
	}
	r.clones[filepath.Join(tmp, top)] = true
	return true
}

// removeClones removes every clone directory recorded.
func (r *readFiles) removeClones() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for dir := range r.clones {
		_ = os.RemoveAll(dir)
	}
}

func (r *readFiles) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.names, name) {
		r.names = append(r.names, name)
	}
}

func (r *readFiles) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.names)
}

// blame answers a failed build: it looks through the files the build read
// (in fsys, the build's in-memory layer over the artifact) for one that
// does not parse, or has a document that does not decode, and returns that
// error naming the file and line. It returns nil when no file has a
// problem: the build's own error stands.
func blame(fsys filesys.FileSystem, read []string, root string) error {
	for _, name := range read {
		if ext := path.Ext(name); ext != ".yaml" && ext != ".yml" && ext != ".json" {
			continue
		}
		data, err := fsys.ReadFile(name)
		if err != nil {
			continue
		}
		if err := yamlbound.Check(data); err != nil {
			return fmt.Errorf("%s: %w", relPath(name, root), err)
		}
		if err := fileProblem(data); err != nil {
			return fmt.Errorf("%s: %w", relPath(name, root), err)
		}
	}
	return nil
}

// fileProblem reads data document by document, strictly (a key twice in
// one mapping is an error), and returns the first problem: the file does
// not parse, or a document does not decode.
func fileProblem(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		n := &yaml.Node{}
		err := dec.Decode(n)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("document at line %d: %w", n.Line, err)
		}
	}
}
