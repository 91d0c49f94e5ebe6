package render

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart/loader"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/corpus"
	"github.com/gitopskit/gitopskit/source"
)

// decodeViaJSON is how the API machinery turns YAML into an object, and
// how decodeObject did it before: sigs.k8s.io/yaml to JSON, then the JSON
// into an Unstructured.
func decodeViaJSON(b []byte) (*unstructured.Unstructured, error) {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if string(j) == "null" || len(bytes.TrimSpace(j)) == 0 {
		return u, nil
	}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, err
	}
	return u, nil
}

// sameAsJSON fails t when decodeObject and decodeViaJSON disagree on b:
// one fails and the other does not, or the objects differ. Where YAML keys
// collide once made strings (1 and "1"), both paths keep one of the values
// in map order, so each is given tries until some pair agrees.
func sameAsJSON(t *testing.T, b []byte) {
	t.Helper()
	_, gotErr := decodeObject(b)
	_, wantErr := decodeViaJSON(b)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%q: decodeObject error %v, via JSON %v", b, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	var diff string
	for try := 0; try < 32; try++ {
		got, err1 := decodeObject(b)
		want, err2 := decodeViaJSON(b)
		if err1 != nil || err2 != nil {
			t.Fatalf("%q: decoding again: %v, %v", b, err1, err2)
		}
		if diff = cmp.Diff(want.Object, got.Object); diff == "" {
			return
		}
	}
	t.Fatalf("%q (-via JSON +decodeObject):\n%s", b, diff)
}

var decodeSeeds = []string{
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {x: '1'}}\ndata: {k: v}\n",
	"kind: K\nints: [0, -0, 7, 9223372036854775807, -9223372036854775808, 9223372036854775808, 18446744073709551616, 0x1F, 0o17, 1_000]\n",
	"kind: K\nfloats: [1.0, -0.0, 2.5, 1e3, 1e20, 1e21, 1.5e300, 9.223372036854775807e18, -9.223372036854775808e18, 1e-7, .5]\n",
	"kind: K\nbad: .nan\n", "kind: K\nbad: [-.inf]\n", "kind: K\n.inf: x\n-.inf: y\n.nan: z\n",
	"kind: K\n1: int key\n2.5: float key\ntrue: bool key\n~: null key\n",
	"kind: K\n[a]: list key\n", "kind: K\n{a: 1}: map key\n",
	"kind: K\nwhen: 2001-12-14t21:59:43.10-05:00\nday: 2002-12-14\n",
	"kind: K\nbin: !!binary aGVsbG8=\nstr: !!str 12\nnum: !!float 3\n",
	"kind: K\nbase: &b {x: 1, y: [1, 2]}\nderived: {<<: *b, y: 3}\n",
	"kind: K\nbools: [yes, no, on, off, y, n, true, False]\n",
	"kind: K\nbad: \"\xff\xfeok\"\n\xffkey: v\n", "kind: \"\xc3\"\n",
	"kind: K\ndup: 1\ndup: 2\n", "kind: K\n1: a\n\"1\": b\n",
	"", "---", "# only a comment\n", "null", "~", "[]", "[kind, K]", "just a string", "42", "{}",
	"apiVersion: v1\nmetadata: {name: no-kind}\n", "kind: 3\n", "kind: [K]\n", "kind: ''\n",
	"{\"kind\": \"K\", \"n\": 1.0, \"s\": \"\\u00e9\"}",
	"kind: K\nblock: |\n  line\n  ---\n  more\nfolded: >-\n  a\n  b\n",
	"kind: K\n  bad: indentation\n", "kind: K\na: [unclosed\n",
}

// TestDecodeObjectAsAPIMachinery: decodeObject reads every one of these
// documents exactly as the API machinery's YAML → JSON → object path does
// (the same objects, failing on the same ones), numbers and odd keys
// included.
func TestDecodeObjectAsAPIMachinery(t *testing.T) {
	for _, s := range decodeSeeds {
		sameAsJSON(t, []byte(s))
	}
	// And the real charts' output, CRDs and all: the corpus test renders
	// them through decodeObject and compares with Helm's own output.
}

// FuzzDecodeObject: decodeObject agrees with the API machinery's path on
// any input, and MarshalYAML with sigs.k8s.io/yaml on what it decodes.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsJSON(t, data)
		// And what decodes prints back as sigs.k8s.io/yaml prints it.
		if u, err := decodeObject(data); err == nil && len(u.Object) > 0 {
			want, wantErr := yaml.Marshal(u.Object)
			got, gotErr := MarshalYAML(u.Object)
			if (wantErr != nil) != (gotErr != nil) || string(want) != string(got) {
				t.Fatalf("%q: MarshalYAML %q (%v), sigs.k8s.io/yaml %q (%v)", data, got, gotErr, want, wantErr)
			}
		}
	})
}

// BenchmarkDecodeCRDs decodes the Envoy Gateway chart's largest CRD file
// (1.3 MB, real) with decodeObject and with the API machinery's path.
func BenchmarkDecodeCRDs(b *testing.B) {
	repo := corpus.FluxExample(b)
	ch, err := loader.Load(filepath.Join(repo.Dir, "fixture", "charts", "envoyproxy-oci", "gateway-helm-v1.9.0-rc.0.tgz"))
	if err != nil {
		b.Fatal(err)
	}
	var docs [][]byte
	for _, crd := range ch.CRDObjects() {
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(crd.File.Data)))
		for {
			d, err := r.Read()
			if err != nil {
				break
			}
			docs = append(docs, d)
		}
	}
	for name, decode := range map[string]func([]byte) (*unstructured.Unstructured, error){"decodeObject": decodeObject, "via-json": decodeViaJSON} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				for _, d := range docs {
					if _, err := decode(d); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestMarshalYAMLAsSigsYAML: MarshalYAML prints the corpus's rendered
// objects (CRDs, RBAC, webhooks, Deployments) and every decodable seed
// byte for byte as sigs.k8s.io/yaml.Marshal does.
func TestMarshalYAMLAsSigsYAML(t *testing.T) {
	repo := corpus.FluxExample(t)
	art, err := source.NewDir(repo.Tree(), source.DirOptions{}).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	g, err := Load(context.Background(), art, "clusters/staging", LoadOptions{Mirrors: repo.Mirrors, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range g.Units {
		for _, o := range u.Applied() {
			objs = append(objs, o.Object)
		}
	}
	if len(objs) < 90 {
		t.Fatalf("%d objects from the corpus", len(objs))
	}
	for _, s := range decodeSeeds {
		if u, err := decodeObject([]byte(s)); err == nil && len(u.Object) > 0 {
			objs = append(objs, u.Object)
		}
	}
	objs = append(objs, map[string]any{"kind": "K", "f": 2.5, "big": 1e21, "tiny": 1e-7, "whole": float64(3), "e15": 1e15, "e19": 1e19, "n": int64(-4),
		"s": []any{"yes", "1", "", "a: b", "line\nbreak", "<html>&"}, "m": map[string]any{}, "l": []any{}, "z": nil})
	for _, o := range objs {
		want, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := MarshalYAML(o)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%v (-sigs.k8s.io/yaml +MarshalYAML):\n%s", o["kind"], diff)
		}
	}
	if _, err := MarshalYAML(map[string]any{"x": math.NaN()}); err == nil {
		t.Error("NaN printed")
	}
}
