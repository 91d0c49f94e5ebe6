package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gliderssh "github.com/gliderlabs/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves repositories over SSH, running git upload-pack for
// clients that present the authorized key.
type SSHServer struct {
	// Addr is host:port; repositories are at ssh://git@Addr/<name>.
	Addr string
	// ClientKey is a PEM private key the server accepts.
	ClientKey []byte
	// KnownHosts is a known_hosts line for the server's host key.
	KnownHosts []byte

	mu       sync.Mutex
	commands []string
}

// URL returns the ssh:// URL of a repository.
func (s *SSHServer) URL(name string) string { return "ssh://git@" + s.Addr + "/" + name }

// Commands returns the commands run since the last call, and forgets them.
func (s *SSHServer) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.commands
	s.commands = nil
	return out
}

func newKey(t testing.TB) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

// ServeSSH starts an SSH server on loopback for the repositories.
func ServeSSH(t testing.TB, repos map[string]*Repo) *SSHServer {
	t.Helper()
	hostSigner, _ := newKey(t)
	clientSigner, clientPEM := newKey(t)
	s := &SSHServer{ClientKey: clientPEM}
	srv := &gliderssh.Server{
		PublicKeyHandler: func(ctx gliderssh.Context, key gliderssh.PublicKey) bool {
			return gliderssh.KeysEqual(key, clientSigner.PublicKey())
		},
		Handler: func(sess gliderssh.Session) {
			args := sess.Command()
			s.mu.Lock()
			s.commands = append(s.commands, strings.Join(args, " "))
			s.mu.Unlock()
			if len(args) != 2 || args[0] != "git-upload-pack" {
				fmt.Fprintf(sess.Stderr(), "only git-upload-pack is served\n")
				_ = sess.Exit(1)
				return
			}
			r, ok := repos[strings.Trim(args[1], "/")]
			if !ok {
				fmt.Fprintf(sess.Stderr(), "repository %s not found\n", args[1])
				_ = sess.Exit(128)
				return
			}
			cmd := exec.Command("git", "upload-pack", filepath.Join(r.Dir, ".git"))
			cmd.Stdin, cmd.Stdout, cmd.Stderr = sess, sess, sess.Stderr()
			code := 0
			if err := cmd.Run(); err != nil {
				var ee *exec.ExitError
				code = 1
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				}
			}
			_ = sess.Exit(code)
		},
	}
	srv.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	s.KnownHosts = []byte(knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, hostSigner.PublicKey()) + "\n")
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}
