package render

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/source"
)

// ExtensionsGroup is the API group of Flux's source extensions: the
// ArtifactGenerator of source-watcher (Flux 2.7), whose artifacts
// Kustomizations and HelmReleases take as ExternalArtifacts.
const ExtensionsGroup = "source.extensions.fluxcd.io"

// artifactGenerator is an ArtifactGenerator (v1beta1), read strictly.
type artifactGenerator struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Sources []struct {
			Alias     string `json:"alias"`
			Kind      string `json:"kind"`
			Name      string `json:"name"`
			Namespace string `json:"namespace,omitempty"`
		} `json:"sources"`
		PathPattern string `json:"pathPattern,omitempty"`
		Artifacts   []struct {
			Name           string `json:"name"`
			Revision       string `json:"revision,omitempty"`
			OriginRevision string `json:"originRevision,omitempty"`
			Copy           []struct {
				From     string   `json:"from"`
				To       string   `json:"to"`
				Exclude  []string `json:"exclude,omitempty"`
				Strategy string   `json:"strategy,omitempty"`
			} `json:"copy"`
		} `json:"artifacts"`
	} `json:"spec"`
	Status map[string]any `json:"status,omitempty"`
}

// readGenerator reads and checks an ArtifactGenerator: its version, its
// fields, unique aliases and artifact names.
func readGenerator(u *unstructured.Unstructured) (*artifactGenerator, error) {
	name := "ArtifactGenerator " + u.GetNamespace() + "/" + u.GetName()
	if v := u.GroupVersionKind().Version; v != "v1beta1" {
		return nil, fmt.Errorf("%s: unsupported version %s (v1beta1 is read)", name, u.GetAPIVersion())
	}
	g := &artifactGenerator{}
	if err := decodeStrict(u, g); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if g.Spec.PathPattern != "" {
		return nil, fmt.Errorf("%s: spec.pathPattern is not implemented: list the artifacts one by one", name)
	}
	aliases := map[string]bool{}
	for i, s := range g.Spec.Sources {
		if s.Alias == "" || s.Kind == "" || s.Name == "" {
			return nil, fmt.Errorf("%s: spec.sources[%d]: alias, kind and name are required", name, i)
		}
		if aliases[s.Alias] {
			return nil, fmt.Errorf("%s: spec.sources: alias %q appears twice", name, s.Alias)
		}
		aliases[s.Alias] = true
	}
	names := map[string]bool{}
	for i, a := range g.Spec.Artifacts {
		if a.Name == "" {
			return nil, fmt.Errorf("%s: spec.artifacts[%d]: name is required", name, i)
		}
		if names[a.Name] {
			return nil, fmt.Errorf("%s: spec.artifacts: %q appears twice", name, a.Name)
		}
		names[a.Name] = true
	}
	return g, nil
}

// generatedArtifact is where an ExternalArtifact comes from: one artifact
// of an ArtifactGenerator rendered somewhere in the graph.
type generatedArtifact struct {
	gen   *artifactGenerator
	index int
	file  string
	err   error // the generator does not read
}

// externalArtifact resolves an ExternalArtifact by building it from its
// generator's sources, once per load. chain holds the ExternalArtifacts
// being built, so one that feeds itself is an error rather than a hang.
func (l *graphLoader) externalArtifact(ctx context.Context, namespace, name string, final bool, warn *[]string, chain []string) (*source.Artifact, error) {
	key := "ExternalArtifact/" + namespace + "/" + name
	if slices.Contains(chain, key) {
		return nil, fmt.Errorf("%s: its generator's sources lead back to it (%s)", key, strings.Join(append(chain, key), " -> "))
	}
	l.mu.Lock()
	gas := l.generated[namespace+"/"+name]
	l.mu.Unlock()
	switch {
	case len(gas) == 0 && !final:
		return nil, errNotYet
	case len(gas) == 0:
		return nil, fmt.Errorf("sourceRef %s: no ArtifactGenerator in the repository produces it: %w", key, ErrNoSource)
	case len(gas) > 1:
		return nil, fmt.Errorf("sourceRef %s: produced by more than one ArtifactGenerator (%s, %s)", key, gas[0].file, gas[1].file)
	}
	ga := gas[0]
	if ga.err != nil {
		return nil, fmt.Errorf("sourceRef %s: %s: %w", key, ga.file, ga.err)
	}
	spec := ga.gen.Spec.Artifacts[ga.index]
	// Fetch the inputs first (each once per load), so a source not
	// rendered yet waits for the next wave instead of failing the build.
	inputs := map[string]source.Source{}
	for _, s := range ga.gen.Spec.Sources {
		ns := s.Namespace
		if ns == "" {
			ns = ga.gen.Namespace
		}
		art, err := l.resolveSource(ctx, s.Kind, ns, s.Name, final, warn, append(chain, key))
		if err != nil {
			if errors.Is(err, errNotYet) {
				return nil, err
			}
			return nil, fmt.Errorf("%s (%s, ArtifactGenerator %s/%s): source @%s: %w", key, ga.file, ga.gen.Namespace, ga.gen.Name, s.Alias, err)
		}
		inputs[s.Alias] = source.SourceFunc(func(context.Context) (*source.Artifact, error) { return art, nil })
	}
	ops := make([]source.CopyOp, len(spec.Copy))
	for i, c := range spec.Copy {
		ops[i] = source.CopyOp{From: c.From, To: c.To, Exclude: c.Exclude, Strategy: c.Strategy}
	}
	gen := source.NewGenerated(inputs, ops, source.GeneratedOptions{Name: key, Revision: spec.Revision, CacheDir: cacheSub(l.opts.CacheDir, "generated")})
	art, err := l.fetchOnce(ctx, key, gen)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", key, ga.file, err)
	}
	return art, nil
}

// generatedArtifacts lists the ExternalArtifacts a generator object
// produces, by "namespace/name"; one that does not read still claims the
// names it lists, so a unit using one of them is told why.
func generatedArtifacts(u *unstructured.Unstructured, file string) map[string]generatedArtifact {
	out := map[string]generatedArtifact{}
	gen, err := readGenerator(u)
	if err != nil {
		arts, _, _ := unstructured.NestedSlice(u.Object, "spec", "artifacts")
		for _, a := range arts {
			if name, _ := a.(map[string]any)["name"].(string); name != "" {
				out[u.GetNamespace()+"/"+name] = generatedArtifact{file: file, err: err}
			}
		}
		return out
	}
	for i, a := range gen.Spec.Artifacts {
		out[gen.Namespace+"/"+a.Name] = generatedArtifact{gen: gen, index: i, file: file}
	}
	return out
}

// chartRoot finds the chart in an artifact: at its root, or in its one
// top-level directory (as `helm package` lays a chart out, and as
// source-watcher's examples copy one).
func chartRoot(art *source.Artifact) (string, error) {
	if _, err := fs.Stat(art.FS, "Chart.yaml"); err == nil {
		return ".", nil
	}
	des, err := fs.ReadDir(art.FS, ".")
	if err != nil {
		return "", err
	}
	var dirs []string
	for _, d := range des {
		if _, err := fs.Stat(art.FS, path.Join(d.Name(), "Chart.yaml")); d.IsDir() && err == nil {
			dirs = append(dirs, d.Name())
		}
	}
	if len(dirs) != 1 {
		return "", fmt.Errorf("%s holds no chart at its root nor in exactly one top-level directory", art.URL)
	}
	return dirs[0], nil
}
