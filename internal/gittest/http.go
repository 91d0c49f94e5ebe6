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
	// Username and Password, when set, are required (basic auth); Token,
	// when set, is required as a bearer token instead.
	Username, Password string
	Token              string
	// Hold, when set, is called before each request is served; a test can
	// block in it to catch a client mid-fetch.
	Hold func(r *http.Request)

	mu       sync.Mutex
	requests []string
	bytes    int64
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// BytesServed returns the response bytes written since the last call, and
// resets the count.
func (s *HTTPServer) BytesServed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.bytes
	s.bytes = 0
	return n
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
		if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if s.Username != "" || s.Password != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != s.Username || p != s.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		if s.Hold != nil {
			s.Hold(r)
		}
		cw := &countingWriter{ResponseWriter: w}
		backend.ServeHTTP(cw, r)
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		s.bytes += cw.n
		s.mu.Unlock()
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
