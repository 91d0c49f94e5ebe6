package render

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/gitopskit/gitopskit/internal/corpus"
)

// splitCases are streams split the ways the YAMLReader splits them.
var splitCases = []string{
	"",
	"a: 1\n",
	"---\na: 1\n",
	"a: 1\n---\nb: 2\n",
	"a: 1\n---\n---\n\n---\nb: 2\n---\n",
	"--- # a comment\na: 1\n---\t\nb: 2\n--- \n",
	"a: |\n  text\n  ---\n---\nb: 2\n",
	"# only a comment\n---\n   \n",
	"a: 1\n---x\nb: 2\n",
	"a: 1\n--- !tag\n",
	"a: 1\n----\n",
	"a: 1\r\n---\r\nb: 2\r\n",
	"a: |\n  no final line end",
	"a: 1\n---",
	"a: 1\n\n\n",
}

// TestSplitYAMLAsYAMLReader: splitYAML gives exactly the documents and
// errors of the API machinery's YAMLReader, on the cases above and on every
// crds/ file of the corpus's charts.
func TestSplitYAMLAsYAMLReader(t *testing.T) {
	streams := map[string][]byte{}
	for i, c := range splitCases {
		streams["case "+string(rune('a'+i))] = []byte(c)
	}
	repo := corpus.FluxExample(t)
	tgzs, err := filepath.Glob(filepath.Join(repo.Dir, "fixture", "charts", "*", "*.tgz"))
	if err != nil || len(tgzs) == 0 {
		t.Fatalf("no corpus charts: %v", err)
	}
	for _, tgz := range tgzs {
		for name, data := range crdFiles(t, tgz) {
			streams[filepath.Base(tgz)+":"+name] = data
		}
	}
	crds := 0
	for name, data := range streams {
		want, wantErr := splitYAMLReader(data)
		got, gotErr := splitYAML(data)
		if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
			t.Errorf("%s: error %v, want %v", name, gotErr, wantErr)
			continue
		}
		if diff := cmp.Diff(strs(want), strs(got)); diff != "" {
			t.Errorf("%s (-YAMLReader +splitYAML):\n%s", name, diff)
		}
		if strings.Contains(name, ":") {
			crds += len(got)
		}
	}
	if crds < 10 {
		t.Errorf("only %d CRD documents in the corpus's charts", crds)
	}
}

// FuzzSplitYAML: splitYAML agrees with the YAMLReader on any stream.
func FuzzSplitYAML(f *testing.F) {
	for _, c := range splitCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantErr := splitYAMLReader(data)
		got, gotErr := splitYAML(data)
		if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
			t.Fatalf("error %v, want %v", gotErr, wantErr)
		}
		if diff := cmp.Diff(strs(want), strs(got)); diff != "" {
			t.Fatalf("(-YAMLReader +splitYAML):\n%s", diff)
		}
	})
}

func strs(docs [][]byte) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = string(d)
	}
	return out
}

// crdFiles are the files of a chart archive's crds/ directories, its
// sub-charts' included, as Helm's loader gives them to renderChart.
func crdFiles(t *testing.T, tgz string) map[string][]byte {
	t.Helper()
	ch, err := loader.Load(tgz)
	if err != nil {
		t.Fatalf("%s: %v", tgz, err)
	}
	out := map[string][]byte{}
	for _, crd := range ch.CRDObjects() {
		out[crd.Filename] = crd.File.Data
	}
	return out
}
