package source

import (
	"context"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/gittest"
)

func serverCA(srv *gittest.HTTPServer) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func TestGitHTTPAuthAndTLS(t *testing.T) {
	r := gittest.NewRepo(t)
	head := r.Commit("one", map[string]string{"a.yaml": "a\n"})
	srv := gittest.ServeHTTP(t, map[string]*gittest.Repo{"fleet": r}, true)
	srv.Username, srv.Password = "flux", "s3cret-token"
	ca := serverCA(srv)
	ctx := context.Background()

	tests := map[string]struct {
		url     string
		auth    GitAuth
		wantErr string
	}{
		"basic auth over TLS with a custom CA": {url: srv.URL + "/fleet", auth: GitAuth{Username: "flux", Password: "s3cret-token", CABundle: ca}},
		"credentials in the URL":               {url: strings.Replace(srv.URL, "https://", "https://flux:s3cret-token@", 1) + "/fleet", auth: GitAuth{CABundle: ca}},
		"wrong password":                       {url: srv.URL + "/fleet", auth: GitAuth{Username: "flux", Password: "wrong-pass", CABundle: ca}, wantErr: "authentication"},
		"no credentials":                       {url: srv.URL + "/fleet", auth: GitAuth{CABundle: ca}, wantErr: "authentication required"},
		"unknown CA":                           {url: srv.URL + "/fleet", auth: GitAuth{Username: "flux", Password: "s3cret-token"}, wantErr: "certificate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewGit(tc.url, GitOptions{Auth: tc.auth, CacheDir: t.TempDir()})
			a, err := g.Fetch(ctx)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if a.Revision != "main@sha1:"+head {
					t.Errorf("revision %s", a.Revision)
				}
				if strings.Contains(a.URL, "s3cret") {
					t.Errorf("artifact URL shows the password: %s", a.URL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
			for _, secret := range []string{"s3cret", "wrong-pass"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a credential: %v", err)
				}
			}
		})
	}
}

func TestGitSSH(t *testing.T) {
	r := gittest.NewRepo(t)
	head := r.Commit("one", map[string]string{"a.yaml": "a\n"})
	srv := gittest.ServeSSH(t, map[string]*gittest.Repo{"fleet": r})
	other := gittest.ServeSSH(t, nil) // another host key
	ctx := context.Background()

	tests := map[string]struct {
		auth    GitAuth
		wantErr string
	}{
		"key and known_hosts":          {auth: GitAuth{SSHPrivateKey: srv.ClientKey, KnownHosts: srv.KnownHosts}},
		"explicitly skipped host keys": {auth: GitAuth{SSHPrivateKey: srv.ClientKey, InsecureIgnoreHostKey: true}},
		"host key mismatch": {
			auth:    GitAuth{SSHPrivateKey: srv.ClientKey, KnownHosts: []byte(strings.Replace(string(other.KnownHosts), port(other.Addr), port(srv.Addr), 1))},
			wantErr: "key mismatch",
		},
		"unknown host": {
			auth:    GitAuth{SSHPrivateKey: srv.ClientKey, KnownHosts: other.KnownHosts},
			wantErr: "key is unknown",
		},
		"key the server does not accept": {
			auth:    GitAuth{SSHPrivateKey: other.ClientKey, KnownHosts: srv.KnownHosts},
			wantErr: "unable to authenticate",
		},
		"key that does not parse": {
			auth:    GitAuth{SSHPrivateKey: []byte("not a key"), KnownHosts: srv.KnownHosts},
			wantErr: "SSH private key does not parse",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			a, err := NewGit(srv.URL("fleet"), GitOptions{Auth: tc.auth, CacheDir: cache}).Fetch(ctx)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if a.Revision != "main@sha1:"+head || readFS(t, a.FS, "a.yaml") != "a\n" {
					t.Errorf("artifact %+v", a)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error shows the key: %v", err)
			}
			assertNoTrees(t, cache)
		})
	}
}

func TestGitBadInput(t *testing.T) {
	r := newFleetRepo(t)
	srv := gittest.ServeHTTP(t, map[string]*gittest.Repo{"fleet": r.Repo}, false)
	url := srv.URL + "/fleet"
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := map[string]struct {
		url  string
		ref  GitRef
		ctx  context.Context
		want string
	}{
		"unknown branch":                     {ref: GitRef{Branch: "nope"}, want: `branch "nope" not found`},
		"unknown tag":                        {ref: GitRef{Tag: "v9"}, want: `tag "v9" not found`},
		"unknown commit":                     {ref: GitRef{Commit: strings.Repeat("ab", 20)}, want: "commit abababababababababababababababababababab not found"},
		"short commit":                       {ref: GitRef{Commit: "abc123"}, want: "not a full 40-character SHA-1"},
		"no tag in range":                    {ref: GitRef{SemVer: ">=3.0.0"}, want: `no tag matches semver ">=3.0.0"`},
		"bad range":                          {ref: GitRef{SemVer: "not a range"}, want: `semver "not a range"`},
		"two refs":                           {ref: GitRef{Branch: "main", Tag: "v1.0.0"}, want: "set one of"},
		"repository not found":               {url: srv.URL + "/missing", want: "not found"},
		"unreachable host":                   {url: "http://127.0.0.1:1/fleet", want: "connection refused"},
		"cancelled context":                  {ctx: cancelled, want: "context canceled"},
		"commit not on the branch's history": {ref: GitRef{Branch: "main", Commit: r.feature}, want: "not found"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			u := tc.url
			if u == "" {
				u = url
			}
			cache := t.TempDir()
			_, err := NewGit(u, GitOptions{Ref: tc.ref, CacheDir: cache}).Fetch(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "git "+u) {
				t.Errorf("error does not name the repository: %v", err)
			}
			assertNoTrees(t, cache)
		})
	}
}

func port(addr string) string { return addr[strings.LastIndex(addr, ":"):] }

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
