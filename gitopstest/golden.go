package gitopstest

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/internal/atomicfile"
	"github.com/gitopskit/gitopskit/render"
)

// maskKey keys the digests that stand for Secret values in golden files:
// fixed, so a file changes exactly when a value does, and no value shows.
var maskKey = []byte("gitopstest")

// RegisterUpdateFlag defines the -update flag on flag.CommandLine and
// returns it; Golden rewrites the golden files when it is set:
//
//	var update = gitopstest.RegisterUpdateFlag()
//
// Call it once per test binary (the flag package refuses a second -update),
// at package level of a test file or in TestMain before flag.Parse.
// Importing the package defines no flag.
func RegisterUpdateFlag() *bool {
	return flag.Bool("update", false, "rewrite the golden files of gitopstest.Golden")
}

// GoldenFile is the name of a unit's golden file: its ID with "/" as "_",
// e.g. Kustomization_flux-system_apps.yaml.
func GoldenFile(unit string) string {
	return strings.ReplaceAll(unit, "/", "_") + ".yaml"
}

// Golden compares every unit's objects, as YAML in the order rendered and
// each after a comment naming its file, with the unit's file in dir
// (GoldenFile), and reports each difference; Secrets' values are masked. With
// update it writes the files instead, and removes those of units that are
// gone. Golden files are the review of a change: the diff of a pull
// request shows what each unit will apply.
func (r *Repo) Golden(t testing.TB, dir string, update bool) {
	t.Helper()
	want := map[string][]byte{}
	for _, u := range r.Graph.Units {
		b, err := unitYAML(u)
		if err != nil {
			t.Errorf("%s: %v", r.unitName(u.ID), err)
			continue
		}
		want[GoldenFile(u.ID)] = b
	}
	existing, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatalf("gitopstest: %v", err)
	}
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("gitopstest: %v", err)
		}
		for name, b := range want {
			if err := atomicfile.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatalf("gitopstest: %v", err)
			}
		}
		for _, f := range existing {
			if _, ok := want[filepath.Base(f)]; !ok {
				if err := os.Remove(f); err != nil {
					t.Fatalf("gitopstest: %v", err)
				}
			}
		}
		return
	}
	for _, u := range r.Graph.Units {
		name := GoldenFile(u.ID)
		b, ok := want[name]
		if !ok {
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: no golden file %s (run go test with -update to write it)", r.unitName(u.ID), filepath.Join(dir, name))
			continue
		}
		if err != nil {
			t.Fatalf("gitopstest: %v", err)
		}
		if diff := cmp.Diff(strings.Split(string(got), "\n"), strings.Split(string(b), "\n")); diff != "" {
			t.Errorf("%s: differs from %s (-golden +rendered; run go test with -update if this is meant):\n%s", r.unitName(u.ID), filepath.Join(dir, name), diff)
		}
	}
	for _, f := range existing {
		if _, ok := want[filepath.Base(f)]; !ok {
			t.Errorf("%s: no unit renders it any more (run go test with -update to remove it)", f)
		}
	}
}

// unitYAML is a unit's golden file.
func unitYAML(u *render.Unit) ([]byte, error) {
	var b bytes.Buffer
	for _, o := range u.Objects {
		y, err := render.MarshalYAML(render.MaskSecret(o.Unstructured, maskKey).Object)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n# source: " + orUnknown(o.Provenance.File) + "\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}

// equalObjects says whether two units render an object the same way.
func equalObjects(a, b render.Object) bool {
	return reflect.DeepEqual(a.Object, b.Object)
}
