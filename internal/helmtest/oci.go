package helmtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/sirupsen/logrus"
	"golang.org/x/crypto/bcrypt"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/registry"
)

// Registry is an OCI registry (the distribution project's, storing in
// memory) on loopback.
type Registry struct {
	*httptest.Server
	// Host is host:port; charts live at oci://Host/<path>.
	Host               string
	Username, Password string
}

// ServeRegistry starts a registry; with a username it requires basic auth
// (htpasswd, as a real registry is set up).
func ServeRegistry(t testing.TB, username, password string) *Registry {
	t.Helper()
	config := &configuration.Configuration{}
	config.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	config.Log.Level = "error"
	config.Log.AccessLog.Disabled = true
	if username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(t.TempDir(), "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(fmt.Sprintf("%s:%s\n", username, hash)), 0o600); err != nil {
			t.Fatal(err)
		}
		config.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "gitopskit-test", "path": htpasswd}}
	}
	// The registry logs through logrus' standard logger at info level; tests
	// want the servers quiet.
	logrus.SetOutput(io.Discard)
	app := handlers.NewApp(context.Background(), config)
	srv := httptest.NewUnstartedServer(app)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return &Registry{Server: srv, Host: strings.TrimPrefix(srv.URL, "http://"), Username: username, Password: password}
}

// Push uploads a chart archive to oci://Host/<path>/<name>:<version> with
// the Helm SDK's registry client, and returns the manifest's digest.
func (r *Registry) Push(t testing.TB, archive, path string) string {
	t.Helper()
	opts := []registry.ClientOption{registry.ClientOptPlainHTTP(), registry.ClientOptWriter(io.Discard)}
	if r.Username != "" {
		opts = append(opts, registry.ClientOptBasicAuth(r.Username, r.Password))
	}
	c, err := registry.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	name, version := ch.Metadata.Name, ch.Metadata.Version
	// Helm writes '+' in the tag as '_' itself; the ref carries the version as is.
	ref := fmt.Sprintf("%s/%s/%s:%s", r.Host, strings.Trim(path, "/"), name, version)
	res, err := c.Push(b, ref)
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return res.Manifest.Digest
}
