package source

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/internal/gittest"
	"github.com/gitopskit/gitopskit/internal/helmtest"
)

func TestGitBearerToken(t *testing.T) {
	r := gittest.NewRepo(t)
	r.Commit("one", map[string]string{"a.yaml": "a\n"})
	srv := gittest.ServeHTTP(t, map[string]*gittest.Repo{"fleet": r}, false)
	srv.Token = "tok-secret"
	if _, err := NewGit(srv.URL+"/fleet", GitOptions{Auth: GitAuth{BearerToken: "tok-secret"}, CacheDir: t.TempDir()}).Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := NewGit(srv.URL+"/fleet", GitOptions{Auth: GitAuth{BearerToken: "bad-secret"}, CacheDir: t.TempDir()}).Fetch(context.Background())
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("wrong token: err = %v", err)
	}
}

// TestGitMovedRefFetchesOnlyChanges: after one file of 300 changes, the
// second fetch transfers a small fraction of the first.
func TestGitMovedRefFetchesOnlyChanges(t *testing.T) {
	r := gittest.NewRepo(t)
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string]string{}
	for i := range 300 {
		b := make([]byte, 2048)
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		files[fmt.Sprintf("f%03d.txt", i)] = string(b)
	}
	r.Commit("many", files)
	srv := gittest.ServeHTTP(t, map[string]*gittest.Repo{"fleet": r}, false)
	g := NewGit(srv.URL+"/fleet", GitOptions{CacheDir: t.TempDir()})
	if _, err := g.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := srv.BytesServed()
	r.Commit("one change", map[string]string{"f000.txt": "changed\n"})
	a, err := g.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if readFS(t, a.FS, "f000.txt") != "changed\n" {
		t.Fatal("change not fetched")
	}
	second := srv.BytesServed()
	t.Logf("first fetch %d bytes, second %d bytes", first, second)
	if second*10 > first {
		t.Errorf("moved ref transferred %d bytes, the first fetch %d: more than a tenth", second, first)
	}
}

// TestGitCancelMidFetch cancels while the server holds the pack request;
// the cache is left usable and without a tree.
func TestGitCancelMidFetch(t *testing.T) {
	r := gittest.NewRepo(t)
	r.Commit("one", map[string]string{"a.yaml": "a\n"})
	srv := gittest.ServeHTTP(t, map[string]*gittest.Repo{"fleet": r}, false)
	ctx, cancel := context.WithCancel(context.Background())
	srv.Hold = func(req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/git-upload-pack") {
			cancel()
			// The request context ends only once the body is read; bound the wait.
			select {
			case <-req.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}
	}
	cache := t.TempDir()
	_, err := NewGit(srv.URL+"/fleet", GitOptions{CacheDir: cache}).Fetch(ctx)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v", err)
	}
	assertNoTrees(t, cache)
	srv.Hold = nil
	if _, err := NewGit(srv.URL+"/fleet", GitOptions{CacheDir: cache}).Fetch(context.Background()); err != nil {
		t.Fatalf("fetch after a canceled one: %v", err)
	}
}

// TestHelmCancelMidDownload cancels halfway through an archive.
func TestHelmCancelMidDownload(t *testing.T) {
	repo := helmtest.ServeRepo(t, chartArchives(t, "podinfo", "1.0.0"), false)
	ctx, cancel := context.WithCancel(context.Background())
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := os.ReadFile(filepath.Join(repo.Dir, filepath.Base(req.URL.Path)))
		if err != nil {
			http.NotFound(w, req)
			return
		}
		if strings.HasSuffix(req.URL.Path, ".tgz") {
			w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush()
			cancel()
			<-req.Context().Done()
			return
		}
		w.Write([]byte(strings.ReplaceAll(string(b), repo.URL, "http://"+req.Host)))
	}))
	defer slow.Close()
	cache := t.TempDir()
	_, err := NewHelmChart(slow.URL, "podinfo", "1.0.0", HelmOptions{CacheDir: cache}).Fetch(ctx)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "charts"))
	for _, e := range entries {
		t.Errorf("cache holds %s after a canceled download", e.Name())
	}
}
