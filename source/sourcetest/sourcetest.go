// Package sourcetest is the conformance suite for source.Source
// implementations, in the spirit of testing/fstest: run it against a source
// to check that what its artifacts expose agrees — the FS, the files under
// Path that renderers read, and the digest — so a renderer can never see a
// file the source's ignore rules leave out, and a cached render is never
// stale.
package sourcetest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/source"
)

// Expect says what an artifact of the source must hold.
type Expect struct {
	// Files must be in the artifact with these contents ("" checks only
	// that the file is there).
	Files map[string]string
	// Absent must not be: files the source's ignore rules leave out.
	Absent []string
}

var digestForm = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Run fetches from src twice and checks each artifact: the FS passes
// fstest.TestFS and holds the expected files and none of the absent ones;
// the directory at Path holds exactly the FS's files, byte for byte; the
// digest has the sha256:<hex> form; and both fetches give the same
// revision and digest.
func Run(t *testing.T, src source.Source, want Expect) {
	t.Helper()
	ctx := context.Background()
	a, err := src.Fetch(ctx)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	check(t, a, want)
	b, err := src.Fetch(ctx)
	if err != nil {
		t.Fatalf("second fetch: %v", err)
	}
	if a.Digest != b.Digest || a.Revision != b.Revision {
		t.Errorf("two fetches of the same contents differ: %s %s, then %s %s", a.Revision, a.Digest, b.Revision, b.Digest)
	}
}

func check(t *testing.T, a *source.Artifact, want Expect) {
	t.Helper()
	if !digestForm.MatchString(a.Digest) {
		t.Errorf("digest %q is not sha256:<64 hex>", a.Digest)
	}
	if a.Revision == "" {
		t.Error("empty revision")
	}
	var names []string
	for p := range want.Files {
		names = append(names, p)
	}
	slices.Sort(names)
	if err := fstest.TestFS(a.FS, names...); err != nil {
		t.Errorf("FS: %v", err)
	}
	for _, p := range names {
		b, err := fs.ReadFile(a.FS, p)
		if err != nil {
			t.Errorf("FS: %s: %v", p, err)
			continue
		}
		if c := want.Files[p]; c != "" && string(b) != c {
			t.Errorf("FS: %s holds %q, want %q", p, b, c)
		}
	}
	for _, p := range want.Absent {
		if _, err := fs.Stat(a.FS, p); err == nil {
			t.Errorf("FS: %s is there, but the ignore rules leave it out", p)
		}
	}
	inFS, err := readAll(a.FS)
	if err != nil {
		t.Fatalf("FS: %v", err)
	}
	onDisk, err := readAll(os.DirFS(a.Path))
	if err != nil {
		t.Fatalf("Path %s: %v", a.Path, err)
	}
	if diff := cmp.Diff(inFS, onDisk); diff != "" {
		t.Errorf("the files under Path (what renderers read) are not the FS's (-FS +Path):\n%s", diff)
	}
}

// readAll reads every regular file of fsys, by slash path.
func readAll(fsys fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := fs.Stat(fsys, p)
		if err != nil || info.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		out[filepath.ToSlash(p)] = strings.Clone(string(b))
		return err
	})
	return out, err
}
