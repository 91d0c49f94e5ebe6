package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/internal/helmtest"
)

func chartArchives(t *testing.T, name string, versions ...string) []string {
	out := t.TempDir()
	var paths []string
	for _, v := range versions {
		paths = append(paths, helmtest.SimpleChart(t, out, name, v))
	}
	return paths
}

func chartVersion(t *testing.T, a *Artifact) string {
	t.Helper()
	body := readFS(t, a.FS, "templates/configmap.yaml")
	_, v, _ := strings.Cut(body, "version: ")
	v, _, _ = strings.Cut(v, "\n")
	return v
}

func TestHelmHTTPVersions(t *testing.T) {
	repo := helmtest.ServeRepo(t, chartArchives(t, "podinfo", "1.0.0", "1.0.3", "1.1.0", "2.0.0-rc.1"), false)
	tests := map[string]struct{ constraint, want string }{
		"latest stable":         {"", "1.1.0"},
		"exact":                 {"1.0.0", "1.0.0"},
		"tilde range":           {"~1.0", "1.0.3"},
		"range":                 {">=1.0.0 <1.1.0", "1.0.3"},
		"prerelease when asked": {">=2.0.0-0", "2.0.0-rc.1"},
		"wildcard":              {"1.x", "1.1.0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := NewHelmChart(repo.URL, "podinfo", tc.constraint, HelmOptions{CacheDir: t.TempDir()}).Fetch(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if a.Revision != tc.want || chartVersion(t, a) != tc.want {
				t.Errorf("revision %s, chart %s; want %s", a.Revision, chartVersion(t, a), tc.want)
			}
			if !strings.HasPrefix(a.Digest, "sha256:") || !strings.HasSuffix(a.URL, "podinfo-"+tc.want+".tgz") {
				t.Errorf("artifact %+v", a)
			}
			if !strings.Contains(readFS(t, a.FS, "Chart.yaml"), "name: podinfo") {
				t.Error("Chart.yaml missing from the artifact root")
			}
		})
	}
}

// TestHelmHTTPCache: an exact version in the cache needs no request; a
// range re-reads the index (a 304 when unchanged) and never downloads a
// version twice.
func TestHelmHTTPCache(t *testing.T) {
	repo := helmtest.ServeRepo(t, chartArchives(t, "podinfo", "1.0.0"), false)
	cache := t.TempDir()
	ctx := context.Background()
	fetch := func(constraint string) *Artifact {
		t.Helper()
		a, err := NewHelmChart(repo.URL, "podinfo", constraint, HelmOptions{CacheDir: cache}).Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := fetch("1.0.0")
	if diff := cmp.Diff([]string{"GET /index.yaml", "GET /podinfo-1.0.0.tgz"}, repo.Requests()); diff != "" {
		t.Errorf("cold fetch (-want +got):\n%s", diff)
	}
	again := fetch("1.0.0")
	if got := repo.Requests(); len(got) != 0 {
		t.Errorf("cached exact version made requests: %v", got)
	}
	if again.Digest != first.Digest || again.Path != first.Path {
		t.Errorf("cached artifact differs: %+v vs %+v", again, first)
	}
	fetch("1.x")
	if diff := cmp.Diff([]string{"GET /index.yaml (304)"}, repo.Requests()); diff != "" {
		t.Errorf("range fetch of a cached version (-want +got):\n%s", diff)
	}
	repo.Add(t, chartArchives(t, "podinfo", "1.2.0")[0])
	if a := fetch("1.x"); a.Revision != "1.2.0" {
		t.Errorf("new version not picked: %s", a.Revision)
	}
	if diff := cmp.Diff([]string{"GET /index.yaml", "GET /podinfo-1.2.0.tgz"}, repo.Requests()); diff != "" {
		t.Errorf("new version (-want +got):\n%s", diff)
	}
}

func TestHelmHTTPAuthAndTLS(t *testing.T) {
	repo := helmtest.ServeRepo(t, chartArchives(t, "podinfo", "1.0.0"), true)
	repo.Username, repo.Password = "helm", "hunter2-secret"
	ca := pemCert(repo.Certificate().Raw)
	tests := map[string]struct {
		auth HelmAuth
		want string
	}{
		"basic auth and custom CA": {auth: HelmAuth{Username: "helm", Password: "hunter2-secret", CABundle: ca}},
		"wrong password":           {auth: HelmAuth{Username: "helm", Password: "wrong-secret", CABundle: ca}, want: "authentication failed (401 Unauthorized)"},
		"unknown CA":               {auth: HelmAuth{Username: "helm", Password: "hunter2-secret"}, want: "certificate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := NewHelmChart(repo.URL, "podinfo", "1.0.0", HelmOptions{Auth: tc.auth, CacheDir: t.TempDir()}).Fetch(context.Background())
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if a.Revision != "1.0.0" {
					t.Errorf("revision %s", a.Revision)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestHelmMutualTLS: a repository that requires a client certificate is
// reached with the one a certSecretRef holds (tls.crt, tls.key) and refused
// without it.
func TestHelmMutualTLS(t *testing.T) {
	repo, cert, key := helmtest.ServeRepoMutualTLS(t, chartArchives(t, "podinfo", "1.0.0"))
	ca := pemCert(repo.Certificate().Raw)
	auth := HelmAuthFromSecret(map[string][]byte{"ca.crt": ca, "tls.crt": cert, "tls.key": key})
	if _, err := NewHelmChart(repo.URL, "podinfo", "1.0.0", HelmOptions{Auth: auth, CacheDir: t.TempDir()}).Fetch(context.Background()); err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}
	if _, err := NewHelmChart(repo.URL, "podinfo", "1.0.0", HelmOptions{Auth: HelmAuth{CABundle: ca}, CacheDir: t.TempDir()}).Fetch(context.Background()); err == nil {
		t.Fatal("without a client certificate: fetched")
	}
	bad := auth
	bad.TLSClientKey = []byte("not a key")
	if _, err := NewHelmChart(repo.URL, "podinfo", "1.0.0", HelmOptions{Auth: bad, CacheDir: t.TempDir()}).Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "client certificate (tls.crt, tls.key)") {
		t.Fatalf("a bad key: %v", err)
	}
}

// writeIndex writes an index.yaml for archives with the given digests
// (empty: the archive's real one).
func writeIndex(t *testing.T, dir, baseURL string, archives map[string]string) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n  podinfo:\n")
	for file, digest := range archives {
		if digest == "" {
			data, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			digest = hex.EncodeToString(sum[:])
		}
		version := strings.TrimSuffix(strings.TrimPrefix(file, "podinfo-"), ".tgz")
		fmt.Fprintf(&b, "  - apiVersion: v2\n    name: podinfo\n    version: %s\n    digest: %s\n    urls: [%s/%s]\n", version, digest, baseURL, file)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHelmBadInput(t *testing.T) {
	good := chartArchives(t, "podinfo", "1.0.0")[0]
	goodBytes, _ := os.ReadFile(good)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := map[string]struct {
		setup      func(t *testing.T, r *helmtest.Repo)
		name       string
		constraint string
		ctx        context.Context
		url        string
		want       string
	}{
		"malformed index": {
			setup: func(t *testing.T, r *helmtest.Repo) {
				os.WriteFile(filepath.Join(r.Dir, "index.yaml"), []byte("entries: [this is: not an index"), 0o644)
			},
			want: "index.yaml is malformed",
		},
		"digest mismatch": {
			setup: func(t *testing.T, r *helmtest.Repo) {
				writeIndex(t, r.Dir, r.URL, map[string]string{"podinfo-1.0.0.tgz": strings.Repeat("0", 64)})
			},
			want: "digest mismatch",
		},
		"truncated archive": {
			setup: func(t *testing.T, r *helmtest.Repo) {
				os.WriteFile(filepath.Join(r.Dir, "podinfo-1.0.0.tgz"), goodBytes[:len(goodBytes)/2], 0o644)
				writeIndex(t, r.Dir, r.URL, map[string]string{"podinfo-1.0.0.tgz": ""})
			},
			want: "truncated or corrupt",
		},
		"archive escaping its directory": {
			setup: func(t *testing.T, r *helmtest.Repo) {
				os.WriteFile(filepath.Join(r.Dir, "podinfo-1.0.0.tgz"), makeTarGz(t, []tarEntry{{name: "podinfo/../../../evil", body: "x"}}), 0o644)
				writeIndex(t, r.Dir, r.URL, map[string]string{"podinfo-1.0.0.tgz": ""})
			},
			want: "leaves the target directory",
		},
		"archive with a symlink": {
			setup: func(t *testing.T, r *helmtest.Repo) {
				os.WriteFile(filepath.Join(r.Dir, "podinfo-1.0.0.tgz"), makeTarGz(t, []tarEntry{{name: "podinfo/x", link: "/etc/passwd", typ: '2'}}), 0o644)
				writeIndex(t, r.Dir, r.URL, map[string]string{"podinfo-1.0.0.tgz": ""})
			},
			want: "is a link",
		},
		"unknown chart":       {name: "nginx", want: `no chart name found`},
		"no matching version": {constraint: ">=5.0.0", want: "no chart version found"},
		"bad constraint":      {constraint: "not-a-version!", want: "not a semver constraint"},
		"unreachable host":    {url: "http://127.0.0.1:1", want: "connection refused"},
		"cancelled context":   {ctx: cancelled, want: "context canceled"},
		"unsupported scheme":  {url: "ftp://example.com/charts", want: `unsupported repository scheme "ftp"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := helmtest.ServeRepo(t, []string{good}, false)
			if tc.setup != nil {
				tc.setup(t, r)
			}
			url, chart, ctx := r.URL, "podinfo", context.Background()
			if tc.url != "" {
				url = tc.url
			}
			if tc.name != "" {
				chart = tc.name
			}
			if tc.ctx != nil {
				ctx = tc.ctx
			}
			cache := t.TempDir()
			_, err := NewHelmChart(url, chart, tc.constraint, HelmOptions{CacheDir: cache}).Fetch(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "helm chart "+url+"/"+chart) {
				t.Errorf("error does not name the chart: %v", err)
			}
			entries, _ := os.ReadDir(filepath.Join(cache, "charts"))
			for _, e := range entries {
				t.Errorf("cache holds %s after a failed fetch", e.Name())
			}
		})
	}
}

// TestHelmIndexKeptOnBadUpdate: a malformed index never replaces the cached
// one, so what was cached still resolves.
func TestHelmIndexKeptOnBadUpdate(t *testing.T) {
	r := helmtest.ServeRepo(t, chartArchives(t, "podinfo", "1.0.0"), false)
	cache := t.TempDir()
	ctx := context.Background()
	if _, err := NewHelmChart(r.URL, "podinfo", "", HelmOptions{CacheDir: cache}).Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(r.Dir, "index.yaml"), []byte("{{{"), 0o644)
	if _, err := NewHelmChart(r.URL, "podinfo", "", HelmOptions{CacheDir: cache}).Fetch(ctx); err == nil {
		t.Fatal("malformed index accepted")
	}
	if a, err := NewHelmChart(r.URL, "podinfo", "1.0.0", HelmOptions{CacheDir: cache}).Fetch(ctx); err != nil || a.Revision != "1.0.0" {
		t.Fatalf("cached chart lost: %v", err)
	}
}

func TestHelmOCI(t *testing.T) {
	reg := helmtest.ServeRegistry(t, "oci-user", "oci-secret")
	var first string
	for i, a := range chartArchives(t, "podinfo", "1.0.0", "1.1.0", "1.2.0+build.7") {
		if d := reg.Push(t, a, "charts"); i == 0 {
			first = d
		}
	}
	url := "oci://" + reg.Host + "/charts"
	auth := HelmAuth{Username: "oci-user", Password: "oci-secret", PlainHTTP: true}
	ctx := context.Background()
	tests := map[string]struct {
		constraint string
		auth       HelmAuth
		want       string
		wantErr    string
	}{
		"latest":           {auth: auth, want: "1.2.0+build.7"},
		"range":            {constraint: "~1.0", auth: auth, want: "1.0.0"},
		"exact":            {constraint: "1.1.0", auth: auth, want: "1.1.0"},
		"pinned by digest": {constraint: first, auth: auth, want: "1.0.0"},
		"wrong password":   {auth: HelmAuth{Username: "oci-user", Password: "nope-secret", PlainHTTP: true}, wantErr: "authentication failed"},
		"no matching tag":  {constraint: ">=3.0.0", auth: auth, wantErr: "no tag matches"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			a, err := NewHelmChart(url, "podinfo", tc.constraint, HelmOptions{Auth: tc.auth, CacheDir: cache}).Fetch(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(a.Revision, tc.want+"@sha256:") || chartVersion(t, a) != tc.want {
				t.Errorf("revision %s, chart %s; want %s", a.Revision, chartVersion(t, a), tc.want)
			}
			// A second fetch reuses the cached layer and gives the same artifact.
			b, err := NewHelmChart(url, "podinfo", tc.constraint, HelmOptions{Auth: tc.auth, CacheDir: cache}).Fetch(ctx)
			if err != nil || b.Path != a.Path || b.Revision != a.Revision {
				t.Errorf("second fetch: %v %+v", err, b)
			}
		})
	}
}

func TestHelmFileMirror(t *testing.T) {
	ctx := context.Background()
	// An indexed directory, as `helm repo index` leaves it.
	indexed := helmtest.ServeRepo(t, chartArchives(t, "podinfo", "1.0.0", "1.1.0"), false)
	a, err := NewHelmChart("file://"+indexed.Dir, "podinfo", "~1.0", HelmOptions{CacheDir: t.TempDir()}).Fetch(ctx)
	if err == nil {
		t.Logf("index URLs are absolute http URLs: fetched %s", a.Revision)
	}
	local := t.TempDir()
	for _, v := range []string{"1.0.0", "1.1.0"} {
		helmtest.SimpleChart(t, local, "podinfo", v)
	}
	writeIndexRelative(t, local)
	a, err = NewHelmChart("file://"+local, "podinfo", "~1.0", HelmOptions{CacheDir: t.TempDir()}).Fetch(ctx)
	if err != nil || a.Revision != "1.0.0" {
		t.Fatalf("indexed directory: %v %+v", err, a)
	}
	// A directory of unpacked charts, the simplest offline mirror.
	unpacked := t.TempDir()
	helmtest.WriteChart(t, unpacked, "podinfo-1", "1.0.0", map[string]string{"Chart.yaml": "apiVersion: v2\nname: podinfo\nversion: 1.0.0\n", "templates/configmap.yaml": "version: 1.0.0\n"})
	helmtest.WriteChart(t, unpacked, "podinfo-2", "2.0.0", map[string]string{"Chart.yaml": "apiVersion: v2\nname: podinfo\nversion: 2.0.0\n", "templates/configmap.yaml": "version: 2.0.0\n"})
	helmtest.WriteChart(t, unpacked, "other", "9.0.0", map[string]string{})
	a, err = NewHelmChart("file://"+unpacked, "podinfo", "", HelmOptions{CacheDir: t.TempDir()}).Fetch(ctx)
	if err != nil || a.Revision != "2.0.0" || chartVersion(t, a) != "2.0.0" {
		t.Fatalf("unpacked directory: %v %+v", err, a)
	}
}

// writeIndexRelative writes an index whose URLs are relative file names.
func writeIndexRelative(t *testing.T, dir string) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n  podinfo:\n")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tgz") {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		sum := sha256.Sum256(data)
		v := strings.TrimSuffix(strings.TrimPrefix(e.Name(), "podinfo-"), ".tgz")
		fmt.Fprintf(&b, "  - apiVersion: v2\n    name: podinfo\n    version: %s\n    digest: %s\n    urls: [%s]\n", v, hex.EncodeToString(sum[:]), e.Name())
	}
	if err := os.WriteFile(filepath.Join(dir, "index.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
