package source

import (
	"context"
	"strings"
	"testing"
)

// TestNoCredentialsShown: a password never shows in a URL gitopskit prints
// or stores, whatever the scheme's case and whether the URL parses.
func TestNoCredentialsShown(t *testing.T) {
	const secret = "S3CR3TPASS"
	for _, raw := range []string{
		"https://alice:" + secret + "@127.0.0.1:1/fleet.git",
		"HTTPS://alice:" + secret + "@127.0.0.1:1/fleet.git",
		"ssh://alice:" + secret + "@127.0.0.1:1/fleet.git",
		"https://alice:" + secret + "@127.0.0.1:1/re%zzpo.git",
		"oci://alice:" + secret + "@127.0.0.1:1/charts",
		"alice:" + secret + "@127.0.0.1:1/fleet.git", // no scheme
	} {
		if got := RedactURL(raw); strings.Contains(got, secret) || !strings.Contains(got, "alice") {
			t.Errorf("RedactURL(%q) = %q", raw, got)
		}
		clean, _, _ := splitCredentials(raw)
		if strings.Contains(clean, secret) {
			t.Errorf("splitCredentials(%q) keeps the password: %q", raw, clean)
		}
		_, err := NewGit(raw, GitOptions{CacheDir: t.TempDir()}).Fetch(context.Background())
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("NewGit(%q): err = %v", raw, err)
		}
		if _, err := NewHelmChart(raw, "x", "", HelmOptions{CacheDir: t.TempDir()}).Fetch(context.Background()); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("NewHelmChart(%q): err = %v", raw, err)
		}
	}
	if clean, user, pass := splitCredentials("HTTPS://alice:" + secret + "@h/r"); clean != "HTTPS://h/r" || user != "alice" || pass != secret {
		t.Errorf("basic auth from an upper-case scheme: %q %q %q", clean, user, pass)
	}
	if got := RedactURL("https://127.0.0.1:1/fleet.git"); got != "https://127.0.0.1:1/fleet.git" {
		t.Errorf("a URL without credentials changed: %q", got)
	}
}
