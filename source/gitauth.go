package source

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// GitAuth holds credentials for a Git remote, as the keys of a Flux
// GitRepository secret hold them. None of it ever appears in errors,
// revisions or artifacts.
type GitAuth struct {
	// Username and Password for HTTP(S) basic auth (a token as password for
	// most hosting services).
	Username, Password string
	// BearerToken for HTTP(S) token auth.
	BearerToken string
	// CABundle holds extra PEM certificates trusted for HTTPS.
	CABundle []byte
	// TLSClientCert and TLSClientKey are a PEM client certificate and key
	// for mutual TLS over HTTPS (Flux's tls.crt and tls.key).
	TLSClientCert, TLSClientKey []byte
	// SSHPrivateKey is a PEM private key for SSH, with SSHPassphrase if it
	// is encrypted. SSHUser defaults to the URL's user, then "git".
	SSHPrivateKey []byte
	SSHPassphrase string
	SSHUser       string
	// KnownHosts lists the host keys SSH accepts, in known_hosts format.
	// Empty means the user's own known_hosts files. Host keys are always
	// checked unless InsecureIgnoreHostKey says otherwise.
	KnownHosts            []byte
	InsecureIgnoreHostKey bool
}

// GitAuthFromSecret reads credentials from the data of a Flux Git secret
// (username, password, bearerToken, ca.crt, identity, known_hosts).
func GitAuthFromSecret(data map[string][]byte) GitAuth {
	return GitAuth{
		Username:      string(data["username"]),
		Password:      string(data["password"]),
		BearerToken:   string(data["bearerToken"]),
		CABundle:      data["ca.crt"],
		TLSClientCert: data["tls.crt"],
		TLSClientKey:  data["tls.key"],
		SSHPrivateKey: data["identity"],
		SSHPassphrase: string(data["password"]),
		KnownHosts:    data["known_hosts"],
	}
}

// isSSH reports whether a Git URL uses SSH: ssh:// or scp-like user@host:path.
func isSSH(u string) bool {
	if strings.HasPrefix(u, "ssh://") {
		return true
	}
	if strings.Contains(u, "://") {
		return false
	}
	at, colon := strings.Index(u, "@"), strings.Index(u, ":")
	return at > 0 && colon > at
}

// splitCredentials removes a password from an http(s) URL, returning the
// clean URL and the credentials found in it.
func splitCredentials(raw string) (clean string, user, pass string) {
	user, pass, with := userinfo(raw)
	if user == "" && pass == "" {
		return raw, "", ""
	}
	if scheme, _, ok := strings.Cut(raw, "://"); ok && (strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")) {
		return with(""), user, pass // the credentials go to basic auth
	}
	// SSH and the rest keep their user; a password is never kept (SSH
	// authenticates with keys here).
	return with(user), "", ""
}

// transportAuth turns GitAuth into go-git's auth method for the URL.
func (a GitAuth) transportAuth(rawURL string) (transport.AuthMethod, error) {
	if isSSH(rawURL) {
		if len(a.SSHPrivateKey) == 0 {
			return nil, nil // go-git falls back to the SSH agent
		}
		user := a.SSHUser
		if user == "" {
			user = sshUser(rawURL)
		}
		keys, err := gitssh.NewPublicKeys(user, a.SSHPrivateKey, a.SSHPassphrase)
		if err != nil {
			return nil, errors.New("SSH private key does not parse (wrong passphrase or not PEM)")
		}
		switch {
		case a.InsecureIgnoreHostKey:
			keys.HostKeyCallback = ssh.InsecureIgnoreHostKey()
		case len(a.KnownHosts) > 0:
			cb, err := knownHostsCallback(a.KnownHosts)
			if err != nil {
				return nil, err
			}
			keys.HostKeyCallback = cb
		}
		return keys, nil
	}
	switch {
	case a.BearerToken != "":
		return &githttp.TokenAuth{Token: a.BearerToken}, nil
	case a.Username != "" || a.Password != "":
		return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
	}
	return nil, nil
}

func sshUser(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil && u.User.Username() != "" {
		return u.User.Username()
	}
	if at := strings.Index(rawURL, "@"); at > 0 && !strings.Contains(rawURL[:at], "/") {
		return strings.TrimPrefix(rawURL[:at], "ssh://")
	}
	return "git"
}

// knownHostsCallback parses known_hosts content. x/crypto's parser reads
// files, so the content goes through a temporary one.
func knownHostsCallback(content []byte) (ssh.HostKeyCallback, error) {
	f, err := os.CreateTemp("", "gitopskit-known-hosts-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(content); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	cb, err := knownhosts.New(f.Name())
	if err != nil {
		return nil, fmt.Errorf("known_hosts does not parse: %w", err)
	}
	return cb, nil
}
