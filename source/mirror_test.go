package source

import (
	"flag"
	"io"
	"testing"
)

func TestMirrorsRewrite(t *testing.T) {
	m := Mirrors{
		"https://charts.jetstack.io":               "http://127.0.0.1:8080/jetstack",
		"https://github.com/acme/":                 "file:///srv/git/acme/",
		"https://github.com/acme/fleet":            "file:///work/fleet",
		"oci://registry-1.docker.io/bitnamicharts": "file:///mirror/bitnami",
		"@bitnami": "oci://registry-1.docker.io/bitnamicharts",
	}
	tests := map[string]string{
		"https://charts.jetstack.io":                        "http://127.0.0.1:8080/jetstack",
		"https://charts.jetstack.io/index.yaml":             "http://127.0.0.1:8080/jetstack/index.yaml",
		"https://charts.jetstack.io.evil/index.yaml":        "https://charts.jetstack.io.evil/index.yaml",
		"https://github.com/acme/fleet":                     "file:///work/fleet",
		"https://github.com/acme/fleet-two":                 "file:///srv/git/acme/fleet-two",
		"https://github.com/acme/other.git":                 "file:///srv/git/acme/other.git",
		"oci://registry-1.docker.io/bitnamicharts/postgres": "file:///mirror/bitnami/postgres",
		"@bitnami":                      "oci://registry-1.docker.io/bitnamicharts",
		"https://example.com/untouched": "https://example.com/untouched",
	}
	for in, want := range tests {
		if got := m.Rewrite(in); got != want {
			t.Errorf("Rewrite(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Mirrors(nil).Rewrite("https://x"); got != "https://x" {
		t.Errorf("nil Mirrors changed the URL: %q", got)
	}
}

func TestMirrorsFlag(t *testing.T) {
	m := Mirrors{}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(m, "mirror", "")
	if err := fs.Parse([]string{"-mirror", "https://b.example=file:///b", "-mirror", "https://a.example=http://127.0.0.1:8080"}); err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), "https://a.example=http://127.0.0.1:8080,https://b.example=file:///b"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, bad := range []string{"nothing", "=file:///x", "https://x="} {
		if err := m.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}
