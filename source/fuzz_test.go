package source

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

// FuzzRedactURL: a password never survives redaction, whatever surrounds
// it.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"https://", "HTTPS://", "ssh://", "oci://", "", "git::https://", "%zz://"} {
		f.Add(s, "alice", "S3CR3TPASS", "host.example/path?q#f")
	}
	f.Add("0", "001", "0001", "0") // the password spelled by scheme and user together
	f.Fuzz(func(t *testing.T, scheme, user, pass, rest string) {
		if len(pass) < 4 || strings.ContainsAny(pass+user, "@/?#:") || strings.ContainsAny(scheme, "@/?#") {
			return
		}
		// The password may legitimately appear in what stays: spelled by
		// the scheme and user together, or by the rest.
		if strings.Contains(scheme+user+":xxxxx@"+rest, pass) {
			return
		}
		raw := scheme + user + ":" + pass + "@" + rest
		if got := RedactURL(raw); strings.Contains(got, pass) {
			t.Fatalf("RedactURL(%q) = %q keeps the password", raw, got)
		}
	})
}

// FuzzMirrors: no -mirror value makes Set or Rewrite panic.
func FuzzMirrors(f *testing.F) {
	for _, s := range []string{"https://charts.example.com=file:///srv/charts", "=", "a=b=c", "oci://x", ""} {
		f.Add(s, "https://charts.example.com/stable")
	}
	f.Fuzz(func(t *testing.T, flag, url string) {
		m := Mirrors{}
		if err := m.Set(flag); err == nil {
			_ = m.Rewrite(url)
		}
	})
}

// FuzzExtractTarGz: no archive writes outside the directory it is
// extracted into.
func FuzzExtractTarGz(f *testing.F) {
	f.Add(makeTarGz(f, []tarEntry{{name: "app/Chart.yaml", body: "name: app\n"}}))
	f.Add(makeTarGz(f, []tarEntry{{name: "app/../../evil", body: "x"}}))
	f.Add(makeTarGz(f, []tarEntry{{name: "app/link", link: "../../etc/passwd", typ: '2'}}))
	f.Add([]byte("not an archive"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "into")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = extractTarGz(bytes.NewReader(data), dir)
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "into" {
			t.Fatalf("the archive wrote beside the target: %v", entries)
		}
	})
}

// FuzzHelmIndex: no index.yaml a Helm repository serves makes a fetch
// panic, and none sends the fetch anywhere but that repository's server
// (every dial elsewhere is refused).
func FuzzHelmIndex(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nentries:\n  app:\n  - name: app\n    version: 1.0.0\n    urls: [app-1.0.0.tgz]\n    digest: \"00\"\n"))
	f.Add([]byte("apiVersion: v1\nentries:\n  app:\n  - {name: app, version: not-semver, urls: ['https://elsewhere.example/app.tgz']}\n  - {name: app, version: 2.0.0-rc.1, urls: []}\n"))
	f.Add([]byte("entries: {app: [null]}\n"))
	f.Add([]byte("{"))
	var bodies sync.Map
	var seq atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dir, file := path.Split(r.URL.Path)
		b, ok := bodies.Load(dir)
		if !ok || file != "index.yaml" {
			http.NotFound(w, r)
			return
		}
		w.Write(b.([]byte))
	}))
	f.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		if a != addr {
			return nil, fmt.Errorf("dial %s refused: only the repository's server may be reached", a)
		}
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := fmt.Sprintf("/r/%d/", seq.Add(1))
		bodies.Store(dir, data)
		defer bodies.Delete(dir)
		h := NewHelmChart(srv.URL+strings.TrimSuffix(dir, "/"), "app", "", HelmOptions{CacheDir: t.TempDir(), HTTPClient: client, Timeout: 5 * time.Second})
		_, _ = h.Fetch(context.Background())
	})
}

// FuzzChartMetadata: no Chart.yaml makes reading a chart's metadata panic.
func FuzzChartMetadata(f *testing.F) {
	f.Add([]byte("apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- {name: db, version: ~1.2, repository: https://charts.example}\n"))
	f.Add([]byte("name: app\n"))
	f.Add([]byte("dependencies: 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = readChartMetadata(fstest.MapFS{"Chart.yaml": &fstest.MapFile{Data: data}})
	})
}
