package source

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestFetchBounded: a remote that accepts the connection and never
// answers — Git over HTTP, a Helm repository, an OCI registry — fails the
// fetch at the source's timeout, saying so, instead of hanging the caller.
func TestFetchBounded(t *testing.T) {
	release := make(chan struct{})
	var requests atomic.Int32
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		<-release
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for handlers
	host := strings.TrimPrefix(hang.URL, "http://")
	const timeout = 300 * time.Millisecond
	for name, src := range map[string]Source{
		"git":  NewGit(hang.URL+"/repo.git", GitOptions{Ref: GitRef{Branch: "main"}, CacheDir: t.TempDir(), Timeout: timeout}),
		"helm": NewHelmChart(hang.URL, "podinfo", "6.x", HelmOptions{CacheDir: t.TempDir(), Timeout: timeout}),
		"oci":  NewOCI("oci://"+host+"/manifests", OCIOptions{Ref: OCIRef{Tag: "latest"}, Auth: HelmAuth{PlainHTTP: true}, CacheDir: t.TempDir(), Timeout: timeout}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := src.Fetch(context.Background())
			if err == nil || !strings.Contains(err.Error(), "gave up after 300ms") {
				t.Errorf("err = %v", err)
			}
		})
	}
	if n := requests.Load(); n < 3 {
		t.Errorf("%d requests reached the server", n)
	}
}
