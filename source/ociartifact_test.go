package source

import (
	"context"
	"strings"
	"testing"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/gitopskit/gitopskit/internal/helmtest"
)

func TestOCIArtifact(t *testing.T) {
	reg := helmtest.ServeRegistry(t, "user", "oci-secret")
	d1 := reg.PushArtifact(t, "manifests/app", "v1.0.0", FluxContentType, map[string]string{"deploy/app.yaml": "version: 1\n"})
	d2 := reg.PushArtifact(t, "manifests/app", "v1.1.0", FluxContentType, map[string]string{"deploy/app.yaml": "version: 2\n"})
	reg.PushArtifact(t, "manifests/app", "latest", FluxContentType, map[string]string{"deploy/app.yaml": "version: latest\n"})
	url := "oci://" + reg.Host + "/manifests/app"
	auth := HelmAuth{Username: "user", Password: "oci-secret", PlainHTTP: true}
	tests := map[string]struct {
		ref     OCIRef
		auth    HelmAuth
		rev     string
		content string
		wantErr string
	}{
		"default latest": {auth: auth, rev: "latest@sha256:", content: "version: latest\n"},
		"tag":            {ref: OCIRef{Tag: "v1.0.0"}, auth: auth, rev: "v1.0.0@" + d1, content: "version: 1\n"},
		"semver":         {ref: OCIRef{SemVer: "1.x"}, auth: auth, rev: "v1.1.0@" + d2, content: "version: 2\n"},
		"digest":         {ref: OCIRef{Digest: d1}, auth: auth, rev: d1, content: "version: 1\n"},
		"no match":       {ref: OCIRef{SemVer: ">=2.0.0"}, auth: auth, wantErr: `no tag matches semver ">=2.0.0"`},
		"wrong password": {ref: OCIRef{Tag: "v1.0.0"}, auth: HelmAuth{Username: "user", Password: "bad-secret", PlainHTTP: true}, wantErr: "authentication failed"},
		"unknown tag":    {ref: OCIRef{Tag: "v9"}, auth: auth, wantErr: "resolve v9"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := NewOCI(url, OCIOptions{Ref: tc.ref, Auth: tc.auth, CacheDir: t.TempDir()}).Fetch(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "secret") {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(a.Revision, tc.rev) || readFS(t, a.FS, "deploy/app.yaml") != tc.content {
				t.Errorf("revision %s, content %q", a.Revision, readFS(t, a.FS, "deploy/app.yaml"))
			}
		})
	}
	_, err := NewOCI(url, OCIOptions{Ref: OCIRef{Tag: "v1.0.0"}, Auth: auth, MediaType: "application/other", CacheDir: t.TempDir()}).Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), `no layer of type "application/other"`) {
		t.Errorf("media type selector: %v", err)
	}
}

// TestOCIArtifactLayoutMirror: an OCIRepository mirrored to an OCI image
// layout directory (file://) resolves tags, semver and digests as the
// registry does, with no network.
func TestOCIArtifactLayoutMirror(t *testing.T) {
	ctx := context.Background()
	reg := helmtest.ServeRegistry(t, "", "")
	d1 := reg.PushArtifact(t, "manifests/app", "v1.0.0", FluxContentType, map[string]string{"deploy/app.yaml": "version: 1\n"})
	d2 := reg.PushArtifact(t, "manifests/app", "v1.1.0", FluxContentType, map[string]string{"deploy/app.yaml": "version: 2\n"})
	repo, err := remote.NewRepository(reg.Host + "/manifests/app")
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	layout := t.TempDir()
	store, err := oci.New(layout)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"v1.0.0", "v1.1.0"} {
		if _, err := oras.Copy(ctx, repo, tag, store, tag, oras.DefaultCopyOptions); err != nil {
			t.Fatal(err)
		}
	}
	mirrors := Mirrors{"oci://ghcr.io/acme/manifests": "file://" + layout}
	url := mirrors.Rewrite("oci://ghcr.io/acme/manifests")
	for name, tc := range map[string]struct {
		ref          OCIRef
		rev, content string
	}{
		"tag":    {OCIRef{Tag: "v1.0.0"}, "v1.0.0@" + d1, "version: 1\n"},
		"semver": {OCIRef{SemVer: "1.x"}, "v1.1.0@" + d2, "version: 2\n"},
		"digest": {OCIRef{Digest: d1}, d1, "version: 1\n"},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := NewOCI(url, OCIOptions{Ref: tc.ref, CacheDir: t.TempDir()}).Fetch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if a.Revision != tc.rev || readFS(t, a.FS, "deploy/app.yaml") != tc.content {
				t.Errorf("revision %s, content %q", a.Revision, readFS(t, a.FS, "deploy/app.yaml"))
			}
		})
	}
	if _, err := NewOCI("file://"+t.TempDir(), OCIOptions{CacheDir: t.TempDir()}).Fetch(ctx); err == nil || !strings.Contains(err.Error(), "OCI layout") {
		t.Errorf("an empty directory: %v", err)
	}
}
