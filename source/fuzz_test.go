package source

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRedactURL: a password never survives redaction, whatever surrounds
// it.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"https://", "HTTPS://", "ssh://", "oci://", "", "git::https://", "%zz://"} {
		f.Add(s, "alice", "S3CR3TPASS", "host.example/path?q#f")
	}
	f.Fuzz(func(t *testing.T, scheme, user, pass, rest string) {
		if len(pass) < 4 || strings.ContainsAny(pass+user, "@/?#:") || strings.Contains(scheme+rest, pass) || strings.Contains(user, pass) || strings.ContainsAny(scheme, "@/?#") {
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
