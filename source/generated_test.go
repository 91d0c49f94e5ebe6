package source

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// fixed is a source that returns the files it is given, as an artifact.
func fixed(revision string, files map[string]string) Source {
	m := fstest.MapFS{}
	for p, c := range files {
		m[p] = &fstest.MapFile{Data: []byte(c), Mode: 0o644}
	}
	return SourceFunc(func(context.Context) (*Artifact, error) {
		return &Artifact{URL: "test://" + revision, Revision: revision, Digest: "sha256:" + revision, FS: m}, nil
	})
}

// files reads every file of an artifact.
func files(t *testing.T, a *Artifact) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(a.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(a.FS, p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// monorepo is shaped like flux2-kustomize-helm-example.
var monorepo = map[string]string{
	"infrastructure/controllers/cert-manager.yaml":  "cm",
	"infrastructure/controllers/kustomization.yaml": "k1",
	"infrastructure/configs/issuers.yaml":           "issuers",
	"infrastructure/configs/testdata/x.yaml":        "test",
	"infrastructure/README.md":                      "readme",
	"apps/base/podinfo/release.yaml":                "release",
	"apps/staging/kustomization.yaml":               "staging",
	"apps/staging/values.yaml":                      "a: 1\nb: {c: 2, d: [1, 2]}\n",
	"charts/app-1.0.0.tgz":                          "",
	"top.yaml":                                      "top",
}

func TestGenerated(t *testing.T) {
	tests := map[string]struct {
		ops     []CopyOp
		want    map[string]string
		wantErr string
	}{
		"a directory's contents to the root, as the corpus does": {
			ops: []CopyOp{{From: "@repo/infrastructure/**", To: "@artifact/"}},
			want: map[string]string{
				"controllers/cert-manager.yaml": "cm", "controllers/kustomization.yaml": "k1",
				"configs/issuers.yaml": "issuers", "configs/testdata/x.yaml": "test", "README.md": "readme",
			},
		},
		"two directories into subdirectories": {
			ops: []CopyOp{{From: "@repo/apps/base/**", To: "@artifact/base/"}, {From: "@repo/apps/staging/**", To: "@artifact/staging/"}},
			want: map[string]string{
				"base/podinfo/release.yaml": "release", "staging/kustomization.yaml": "staging", "staging/values.yaml": monorepo["apps/staging/values.yaml"],
			},
		},
		"excludes: relative to the prefix, by name at any depth, by directory": {
			ops: []CopyOp{{From: "@repo/infrastructure/**", To: "@artifact/", Exclude: []string{"controllers/cert-manager.yaml", "*.md", "**/testdata/**"}}},
			want: map[string]string{
				"controllers/kustomization.yaml": "k1", "configs/issuers.yaml": "issuers",
			},
		},
		"a glob keeps each match's path": {
			ops:  []CopyOp{{From: "@repo/*.yaml", To: "@artifact/manifests/"}},
			want: map[string]string{"manifests/top.yaml": "top"},
		},
		"a directory as a subdirectory": {
			ops:  []CopyOp{{From: "@repo/apps/staging", To: "@artifact/envs/"}},
			want: map[string]string{"envs/staging/kustomization.yaml": "staging", "envs/staging/values.yaml": monorepo["apps/staging/values.yaml"]},
		},
		"a file to a file and into a directory": {
			ops:  []CopyOp{{From: "@repo/top.yaml", To: "@artifact/renamed.yaml"}, {From: "@repo/top.yaml", To: "@artifact/dir/"}},
			want: map[string]string{"renamed.yaml": "top", "dir/top.yaml": "top"},
		},
		"later operations overwrite, Merge merges as Helm values do": {
			ops: []CopyOp{
				{From: "@repo/apps/staging/values.yaml", To: "@artifact/values.yaml"},
				{From: "@other/values.yaml", To: "@artifact/values.yaml", Strategy: CopyMerge},
				{From: "@repo/top.yaml", To: "@artifact/top.yaml"},
				{From: "@other/top.yaml", To: "@artifact/top.yaml"},
			},
			want: map[string]string{"values.yaml": "a: 1\nb:\n  c: 3\n  d:\n  - 9\ne: 4\n", "top.yaml": "other"},
		},
		"nothing matches": {
			ops:     []CopyOp{{From: "@repo/nowhere/**", To: "@artifact/"}},
			wantErr: `copy from "@repo/nowhere/**" to "@artifact/": nothing in source @repo matches "nowhere/**"`,
		},
		"everything excluded": {
			ops:     []CopyOp{{From: "@repo/*.yaml", To: "@artifact/", Exclude: []string{"*.yaml"}}},
			wantErr: "every match",
		},
		"a missing path": {
			ops:     []CopyOp{{From: "@repo/missing.yaml", To: "@artifact/"}},
			wantErr: "missing.yaml: not in source @repo",
		},
		"an unknown alias": {
			ops:     []CopyOp{{From: "@ghost/x", To: "@artifact/"}},
			wantErr: `no source has the alias "ghost"`,
		},
		"a destination outside the artifact": {
			ops:     []CopyOp{{From: "@repo/top.yaml", To: "@artifact/../../etc/passwd"}},
			wantErr: "leaves the artifact",
		},
		"a bad destination": {
			ops:     []CopyOp{{From: "@repo/top.yaml", To: "artifact/x"}},
			wantErr: "must start with @artifact/",
		},
		"a bad strategy": {
			ops:     []CopyOp{{From: "@repo/top.yaml", To: "@artifact/", Strategy: "Append"}},
			wantErr: `strategy "Append"`,
		},
		"a bad exclude": {
			ops:     []CopyOp{{From: "@repo/top.yaml", To: "@artifact/", Exclude: []string{"[a"}}},
			wantErr: `exclude pattern "[a"`,
		},
	}
	inputs := map[string]Source{
		"repo":  fixed("main@sha1:1111", monorepo),
		"other": fixed("v2", map[string]string{"values.yaml": "b: {c: 3, d: [9]}\ne: 4\n", "top.yaml": "other"}),
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := NewGenerated(inputs, tc.ops, GeneratedOptions{Name: "ExternalArtifact/flux-system/test", CacheDir: t.TempDir()}).Fetch(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), "ExternalArtifact/flux-system/test: ") {
					t.Fatalf("err = %v, want it to name the artifact and contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, files(t, a)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(a.Revision, "latest@sha256:") || a.Revision != "latest@"+a.Digest {
				t.Errorf("revision %q, digest %q", a.Revision, a.Digest)
			}
		})
	}
}

// TestGeneratedRevisionAndDigest: the digest follows the contents, not the
// inputs' revisions; Revision "@alias" takes that input's; an archive is
// extracted; the cache holds one directory per digest.
func TestGeneratedRevisionAndDigest(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	ops := []CopyOp{{From: "@repo/infrastructure/**", To: "@artifact/"}}
	build := func(rev string, files map[string]string, opts GeneratedOptions) *Artifact {
		t.Helper()
		opts.Name, opts.CacheDir = "a", cache
		a, err := NewGenerated(map[string]Source{"repo": fixed(rev, files)}, ops, opts).Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	one := build("main@sha1:1111", monorepo, GeneratedOptions{})
	two := build("main@sha1:2222", monorepo, GeneratedOptions{}) // a commit elsewhere in the repository
	if one.Digest != two.Digest || one.Revision != two.Revision || one.Path != two.Path {
		t.Errorf("same contents, different artifacts: %+v %+v", one, two)
	}
	changed := map[string]string{}
	for k, v := range monorepo {
		changed[k] = v
	}
	changed["infrastructure/configs/issuers.yaml"] = "issuers v2"
	if three := build("main@sha1:3333", changed, GeneratedOptions{}); three.Digest == one.Digest {
		t.Error("changed contents, same digest")
	}
	if a := build("main@sha1:4444", monorepo, GeneratedOptions{Revision: "@repo"}); a.Revision != "main@sha1:4444" || a.Digest != one.Digest {
		t.Errorf("revision from @repo: %q %q", a.Revision, a.Digest)
	}
	// What was built is remembered for the process; a cache directory
	// removed behind its back is built again.
	if err := os.RemoveAll(one.Path); err != nil {
		t.Fatal(err)
	}
	if again := build("main@sha1:5555", monorepo, GeneratedOptions{}); again.Digest != one.Digest || len(files(t, again)) == 0 {
		t.Errorf("rebuilt after removal: %+v, %d files", again, len(files(t, again)))
	}

	chart := makeTarGz(t, []tarEntry{{name: "app/Chart.yaml", body: "name: app\n"}, {name: "app/values.yaml", body: "x: 1\n"}})
	in := fixed("oci", map[string]string{"charts/app-1.0.0.tgz": string(chart), "charts/notes.txt": "n"})
	a, err := NewGenerated(map[string]Source{"oci": in}, []CopyOp{{From: "@oci/charts/*.tgz", To: "@artifact/", Strategy: CopyExtract}}, GeneratedOptions{Name: "x", CacheDir: cache}).Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"app/Chart.yaml": "name: app\n", "app/values.yaml": "x: 1\n"}, files(t, a)); diff != "" {
		t.Errorf("extract (-want +got):\n%s", diff)
	}
}
