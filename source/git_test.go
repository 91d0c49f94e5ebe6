package source

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/internal/gittest"
)

func readFS(t testing.TB, fsys fs.FS, name string) string {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fleetRepo is a small repository with branches, lightweight and annotated
// tags and a pull-request ref.
type fleetRepo struct {
	*gittest.Repo
	first, second, feature, pr string
}

func newFleetRepo(t *testing.T) *fleetRepo {
	r := &fleetRepo{Repo: gittest.NewRepo(t)}
	r.first = r.Commit("first", map[string]string{"deploy/app.yaml": "version: 1\n"})
	r.Git("tag", "v1.0.0")
	r.Git("tag", "-a", "v1.1.0", "-m", "annotated")
	r.second = r.Commit("second", map[string]string{"deploy/app.yaml": "version: 2\n"})
	r.Git("tag", "v2.0.0-rc.1")
	r.Git("tag", "not-semver")
	r.Git("checkout", "-q", "-b", "feature")
	r.feature = r.Commit("feature", map[string]string{"deploy/app.yaml": "version: feature\n"})
	r.pr = r.Commit("pr", map[string]string{"deploy/app.yaml": "version: pr\n"})
	r.Git("update-ref", "refs/pull/1/head", r.pr)
	r.Git("reset", "-q", "--hard", r.feature)
	r.Git("checkout", "-q", "main")
	return r
}

func TestGitRefs(t *testing.T) {
	r := newFleetRepo(t)
	srv := gittest.ServeHTTP(t, map[string]*gittest.Repo{"fleet": r.Repo}, false)
	tests := map[string]struct {
		ref     GitRef
		rev     string
		content string
	}{
		"remote HEAD":               {rev: "main@sha1:" + r.second, content: "version: 2\n"},
		"branch":                    {ref: GitRef{Branch: "feature"}, rev: "feature@sha1:" + r.feature, content: "version: feature\n"},
		"lightweight tag":           {ref: GitRef{Tag: "v1.0.0"}, rev: "v1.0.0@sha1:" + r.first, content: "version: 1\n"},
		"annotated tag":             {ref: GitRef{Tag: "v1.1.0"}, rev: "v1.1.0@sha1:" + r.first, content: "version: 1\n"},
		"semver range, highest tag": {ref: GitRef{SemVer: ">=1.0.0 <2.0.0"}, rev: "v1.1.0@sha1:" + r.first, content: "version: 1\n"},
		"semver with prereleases":   {ref: GitRef{SemVer: ">=2.0.0-0"}, rev: "v2.0.0-rc.1@sha1:" + r.second, content: "version: 2\n"},
		"commit alone":              {ref: GitRef{Commit: r.first}, rev: "sha1:" + r.first, content: "version: 1\n"},
		"branch and older commit":   {ref: GitRef{Branch: "main", Commit: r.first}, rev: "main@sha1:" + r.first, content: "version: 1\n"},
		"full ref name":             {ref: GitRef{Name: "refs/pull/1/head"}, rev: "refs/pull/1/head@sha1:" + r.pr, content: "version: pr\n"},
	}
	for _, transport := range []string{"http", "local"} {
		for name, tc := range tests {
			t.Run(transport+"/"+name, func(t *testing.T) {
				url := srv.URL + "/fleet"
				if transport == "local" {
					url = r.Dir
				}
				a, err := NewGit(url, GitOptions{Ref: tc.ref, CacheDir: t.TempDir()}).Fetch(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if a.Revision != tc.rev {
					t.Errorf("revision = %s, want %s", a.Revision, tc.rev)
				}
				if got := readFS(t, a.FS, "deploy/app.yaml"); got != tc.content {
					t.Errorf("content = %q, want %q", got, tc.content)
				}
			})
		}
	}
}

// TestGitCache: a second fetch of an unchanged ref makes one ref listing and
// no clone; a moved ref fetches again; equal trees share one cache entry.
func TestGitCache(t *testing.T) {
	r := gittest.NewRepo(t)
	r.Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	srv := gittest.ServeHTTP(t, map[string]*gittest.Repo{"fleet": r}, false)
	cache := t.TempDir()
	src := NewGit(srv.URL+"/fleet", GitOptions{Ref: GitRef{Branch: "main"}, CacheDir: cache})
	ctx := context.Background()

	a1, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Requests()); n < 2 {
		t.Fatalf("cold fetch made %d requests, want a listing and a fetch", n)
	}
	a2, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /fleet/info/refs?service=git-upload-pack"}
	if diff := cmp.Diff(want, srv.Requests()); diff != "" {
		t.Errorf("no-op fetch requests (-want +got):\n%s", diff)
	}
	if a1.Digest != a2.Digest || a1.Path != a2.Path || a1.Revision != a2.Revision {
		t.Errorf("no-op fetch differs: %+v vs %+v", a1, a2)
	}

	r.Commit("two", map[string]string{"a.yaml": "a: 2\n", "b.yaml": "b: 1\n"})
	a3, err := src.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a3.Digest == a1.Digest || readFS(t, a3.FS, "b.yaml") != "b: 1\n" {
		t.Errorf("moved ref not fetched: %+v", a3)
	}
	if got := readFS(t, a1.FS, "a.yaml"); got != "a: 1\n" {
		t.Errorf("the old artifact changed under its user: %q", got)
	}
	if n := len(srv.Requests()); n < 2 {
		t.Errorf("moved ref made %d requests, want a listing and a fetch", n)
	}

	// The same tree through a Dir source has the same digest.
	d, err := NewDir(r.Dir, DirOptions{}).Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != a3.Digest {
		t.Errorf("dir digest %s != git digest %s for the same files", d.Digest, a3.Digest)
	}
	// Artifact files are read-only.
	if err := os.WriteFile(filepath.Join(a3.Path, "a.yaml"), []byte("x"), 0o644); err == nil && os.Geteuid() != 0 {
		t.Error("artifact file is writable")
	}
}

func TestGitIgnoreAndSymlinks(t *testing.T) {
	r := gittest.NewRepo(t)
	r.Commit("tree", map[string]string{
		"deploy/app.yaml": "a\n", "deploy/logo.png": "p", "docs/readme.md": "r\n",
		".sourceignore": "docs/\n",
	})
	r.Git("checkout", "-q", "-b", "links")
	if err := os.Symlink("app.yaml", filepath.Join(r.Dir, "deploy/alias.yaml")); err != nil {
		t.Fatal(err)
	}
	r.Commit("link", nil)
	r.Git("checkout", "-q", "-b", "evil")
	if err := os.Symlink("../../../etc/passwd", filepath.Join(r.Dir, "deploy/evil")); err != nil {
		t.Fatal(err)
	}
	r.Commit("evil", nil)
	ctx := context.Background()

	a, err := NewGit(r.Dir, GitOptions{Ref: GitRef{Branch: "links"}, CacheDir: t.TempDir()}).Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{".sourceignore", "deploy/alias.yaml", "deploy/app.yaml"}, filesOf(t, a.FS)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got := readFS(t, a.FS, "deploy/alias.yaml"); got != "a\n" {
		t.Errorf("symlink reads %q", got)
	}

	cache := t.TempDir()
	_, err = NewGit(r.Dir, GitOptions{Ref: GitRef{Branch: "evil"}, CacheDir: cache}).Fetch(ctx)
	if err == nil || !strings.Contains(err.Error(), `deploy/evil: symlink to "../../../etc/passwd" leaves the source tree`) {
		t.Fatalf("err = %v", err)
	}
	assertNoTrees(t, cache)
}

// assertNoTrees checks a failed fetch left no tree, complete or partial.
func assertNoTrees(t *testing.T, cache string) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Join(cache, "trees"))
	for _, e := range entries {
		t.Errorf("cache holds %s after a failed fetch", e.Name())
	}
}
