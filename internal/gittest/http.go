package gittest

import (
	"io"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// HTTPServer serves the repositories under a root directory over Git's
// smart HTTP protocol with the system's git http-backend.
type HTTPServer struct {
	*httptest.Server
	// Username and Password, when set, are required (basic auth).
	Username, Password string

	mu       sync.Mutex
	requests []string
}

// ServeHTTP starts a server for repositories: each is reachable at
// URL + "/" + name. With tls it serves HTTPS with a test certificate (the
// server's Certificate() is its CA).
func ServeHTTP(t testing.TB, repos map[string]*Repo, tls bool) *HTTPServer {
	t.Helper()
	root := t.TempDir()
	for name, r := range repos {
		if err := os.Symlink(filepath.Join(r.Dir, ".git"), filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := &cgi.Handler{
		Path:   filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1"},
		Stderr: io.Discard,
	}
	s := &HTTPServer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Username != "" || s.Password != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != s.Username || p != s.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		s.mu.Unlock()
		backend.ServeHTTP(w, r)
	})
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are what some tests want
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// Requests returns the requests served since the last call, and forgets
// them.
func (s *HTTPServer) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.requests
	s.requests = nil
	return out
}
