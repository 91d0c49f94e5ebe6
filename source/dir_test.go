package source

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/internal/testfs"
)

// writeFiles writes a tree; "->target" makes a symlink.
func writeFiles(t testing.TB, dir string, files map[string]string) { testfs.Write(t, dir, files) }

func filesOf(t testing.TB, fsys fs.FS) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDirIgnoreRules(t *testing.T) {
	base := map[string]string{
		"clusters/dev/kustomization.yaml": "resources: []\n",
		"apps/base/deploy.yaml":           "kind: Deployment\n",
		"apps/base/logo.png":              "png",
		".git/HEAD":                       "ref: refs/heads/main\n",
		".gitignore":                      "*.tmp\n",
		".github/workflows/ci.yaml":       "on: push\n",
		"docs/notes.md":                   "notes\n",
		"docs/.sourceignore":              "*.md\n",
		"apps/base/link.yaml":             "->deploy.yaml",
	}
	tests := map[string]struct {
		ignore string
		extra  map[string]string
		want   []string
	}{
		"defaults": {
			want: []string{"apps/base/deploy.yaml", "apps/base/link.yaml", "clusters/dev/kustomization.yaml", "docs/.sourceignore"},
		},
		"caller rules replace the defaults but not VCS": {
			ignore: "/*\n!/clusters/\n",
			want:   []string{"clusters/dev/kustomization.yaml"},
		},
		"a root .sourceignore": {
			extra: map[string]string{".sourceignore": "apps/\n"},
			want:  []string{".sourceignore", "clusters/dev/kustomization.yaml", "docs/.sourceignore"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, base)
			writeFiles(t, dir, tc.extra)
			a, err := NewDir(dir, DirOptions{Ignore: tc.ignore}).Fetch(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, filesOf(t, a.FS)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			var paths []string
			for _, p := range tc.want {
				paths = append(paths, p)
			}
			if err := fstest.TestFS(a.FS, paths...); err != nil {
				t.Errorf("fstest: %v", err)
			}
		})
	}
}

func TestDirDigest(t *testing.T) {
	files := map[string]string{"a.yaml": "a: 1\n", "sub/b.yaml": "b: 2\n", "sub/c/d.yaml": "d\n"}
	fetch := func(dir string) *Artifact {
		t.Helper()
		a, err := NewDir(dir, DirOptions{}).Fetch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	one, two := t.TempDir(), t.TempDir()
	writeFiles(t, one, files)
	// The same files written in another order, with an ignored extra.
	for _, name := range []string{"sub/c/d.yaml", "a.yaml", "sub/b.yaml"} {
		writeFiles(t, two, map[string]string{name: files[name]})
	}
	writeFiles(t, two, map[string]string{".git/config": "x", "pic.png": "y"})
	a1, a2 := fetch(one), fetch(two)
	if a1.Digest != a2.Digest || !strings.HasPrefix(a1.Digest, "sha256:") || a1.Revision != a1.Digest {
		t.Fatalf("digests: %s vs %s (revision %s)", a1.Digest, a2.Digest, a1.Revision)
	}
	if a1.URL != "file://"+filepath.ToSlash(one) {
		t.Errorf("URL = %s", a1.URL)
	}
	// A dirty working tree: an edit changes the digest.
	writeFiles(t, two, map[string]string{"sub/b.yaml": "b: 3\n"})
	if a3 := fetch(two); a3.Digest == a1.Digest {
		t.Error("digest unchanged after an edit")
	}
	// So does making a file executable.
	if err := os.Chmod(filepath.Join(one, "a.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if fetch(one).Digest == a1.Digest {
		t.Error("digest unchanged after chmod +x")
	}
}

func TestDirErrors(t *testing.T) {
	tests := map[string]struct {
		files map[string]string
		path  string
		want  string
	}{
		"missing":                  {path: "nope", want: "nope: "},
		"a file, not a directory":  {files: map[string]string{"f": "x"}, path: "f", want: "not a directory"},
		"symlink out of the tree":  {files: map[string]string{"x/evil": "->../../etc/passwd"}, want: `x/evil: symlink to "../../etc/passwd" leaves the source tree`},
		"symlink to absolute path": {files: map[string]string{"evil": "->/etc/passwd"}, want: `evil: symlink to absolute path "/etc/passwd"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			_, err := NewDir(filepath.Join(dir, tc.path), DirOptions{}).Fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
