package render

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testfs"
)

// TestLoadAliasBomb: a YAML alias bomb anywhere a unit reads YAML — a
// kustomization's resource, a path without a kustomization file, the
// kustomization file itself, the root path — fails that unit, naming the
// file, without expanding it; the other units render.
func TestLoadAliasBomb(t *testing.T) {
	bomb := testfs.AliasBomb("laughs", 9, 9)
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine, namespace: default}\n"
	art := repoArtifact(t, map[string]string{
		"root/units.yaml": kustomizationYAML("resource", "./resource") + "---\n" + kustomizationYAML("plain", "./plain") + "---\n" +
			kustomizationYAML("kfile", "./kfile") + "---\n" + kustomizationYAML("fine", "./fine"),
		"resource/kustomization.yaml": "resources: [cm.yaml, bomb.yaml]\n",
		"resource/cm.yaml":            cm,
		"resource/bomb.yaml":          bomb,
		"plain/deep/bomb.yaml":        bomb,
		"kfile/kustomization.yaml":    "a0: &a0 [x,x,x,x,x,x,x,x,x]\n" + strings.Join(nested(), "") + "resources: [cm.yaml]\n",
		"kfile/cm.yaml":               cm,
		"fine/cm.yaml":                cm,
	})
	g := loadRoot(t, art, LoadOptions{})
	for unit, want := range map[string]string{
		"resource": "resource/bomb.yaml: document 1: YAML aliases expand too far",
		"plain":    "plain/deep/bomb.yaml: document 1: YAML aliases expand too far",
		"kfile":    "kfile/kustomization.yaml: error converting YAML to JSON: yaml: document contains excessive aliasing",
	} {
		u := g.Unit("Kustomization/flux-system/" + unit)
		if u.Err == nil || !strings.Contains(u.Err.Error(), want) {
			t.Errorf("%s: err = %v, want it to name %q", unit, u.Err, want)
		}
	}
	if u := g.Unit("Kustomization/flux-system/fine"); u.Err != nil || len(u.Objects) != 1 {
		t.Errorf("fine: %v, %d objects", u.Err, len(u.Objects))
	}

	_, err := Load(context.Background(), repoArtifact(t, map[string]string{"root/bomb.yaml": bomb}), "root", LoadOptions{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "root/bomb.yaml: document 1: YAML aliases expand too far") {
		t.Errorf("root: err = %v", err)
	}
}

// nested is eight more levels of nine-fold aliases over a0, as keys of a
// kustomization file.
func nested() []string {
	var out []string
	for i := 1; i < 9; i++ {
		prev := "*a" + string(rune('0'+i-1))
		out = append(out, "a"+string(rune('0'+i))+": &a"+string(rune('0'+i))+" ["+strings.Repeat(prev+",", 8)+prev+"]\n")
	}
	return out
}

// TestLoadBadDocuments: a key given twice in a Flux Kustomization fails
// that unit alone, naming file and line, and its file's other documents
// still count; in any other object it fails the unit that renders it,
// naming the file; a file that does not parse is named too. A path that
// is a symlink to a directory renders, and errors name it as written.
func TestLoadBadDocuments(t *testing.T) {
	cm := func(name, data string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: default}\ndata: " + data + "\n"
	}
	art := repoArtifact(t, map[string]string{
		"root/units.yaml": kustomizationYAML("twice", "./a") + "  path: ./b\n---\n" + kustomizationYAML("neighbour", "./a") + "---\n" +
			kustomizationYAML("dupdata", "./dup") + "---\n" + kustomizationYAML("syntax", "./syntax") + "---\n" +
			kustomizationYAML("linked", "./link") + "---\n" + kustomizationYAML("badlink", "./badlink"),
		"a/cm.yaml":                 cm("a", "{x: '1'}"),
		"dup/cm.yaml":               cm("dup", "{x: '1', x: '2'}"),
		"syntax/kustomization.yaml": "resources: [ok.yaml, broken.yaml]\n",
		"syntax/ok.yaml":            cm("ok", "{x: '1'}"),
		"syntax/broken.yaml":        cm("broken", "{x: [1}"),
		"link":                      "->real",
		"real/cm.yaml":              cm("real", "{x: '1'}"),
		"badlink":                   "->real2",
		"real2/cm.yaml":             cm("real2", "{x: [1}"),
	})
	g, err := Load(context.Background(), art, "root", LoadOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("the root fails: %v", err)
	}
	for unit, want := range map[string]string{
		"twice":   `Kustomization/flux-system/twice: root/units.yaml: yaml: unmarshal errors:` + "\n" + `  line 14: mapping key "path" already defined at line 11`,
		"dupdata": `dup/cm.yaml: ConfigMap/default/dup: yaml: unmarshal errors:`,
		"syntax":  `syntax/broken.yaml: yaml: line 3: did not find expected ',' or ']'`,
		"badlink": `badlink (a link to real2): failed to decode Kubernetes YAML from real2/cm.yaml`,
	} {
		u := g.Unit("Kustomization/flux-system/" + unit)
		if u == nil || u.Err == nil || !strings.Contains(u.Err.Error(), want) {
			t.Errorf("%s: got %v, want an error with %q", unit, u, want)
		}
	}
	if u := g.Unit("Kustomization/flux-system/twice"); u != nil && u.Parent != RootID {
		t.Errorf("twice: parent %q", u.Parent)
	}
	for unit, file := range map[string]string{"neighbour": "a/cm.yaml", "linked": "link/cm.yaml"} {
		u := g.Unit("Kustomization/flux-system/" + unit)
		if u.Err != nil || len(u.Objects) != 1 || u.Objects[0].Provenance.File != file {
			t.Errorf("%s: %v, objects %v", unit, u.Err, u.Objects)
		}
	}
}

// cancelingValues cancels the load the first time a unit reads a value.
type cancelingValues struct{ cancel context.CancelFunc }

func (c cancelingValues) Data(ctx context.Context, kind, namespace, name string) (map[string]string, error) {
	c.cancel()
	return map[string]string{"v": "x"}, nil
}

// TestLoadCanceled: a load canceled while it renders returns the
// cancellation, never a graph whose units seem to have failed on their own.
func TestLoadCanceled(t *testing.T) {
	files := map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndata: {v: \"${v}\"}\n"}
	var units []string
	for i := range 20 {
		units = append(units, strings.Replace(kustomizationYAML(fmt.Sprintf("u%d", i), "./app"), "prune: true", "prune: true\n  postBuild: {substituteFrom: [{kind: ConfigMap, name: vars}]}", 1))
	}
	files["root/units.yaml"] = strings.Join(units, "---\n")
	art := repoArtifact(t, files)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := Load(ctx, art, "root", LoadOptions{CacheDir: t.TempDir(), Values: cancelingValues{cancel}})
	if !errors.Is(err, context.Canceled) || g != nil {
		t.Errorf("Load = %v, %v; want context.Canceled and no graph", g, err)
	}
}
