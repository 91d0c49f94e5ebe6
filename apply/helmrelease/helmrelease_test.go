package helmrelease

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/release"
)

// TestRef: a Ref reads back as the release it names, with its uninstall
// settings in either order; a ref of something else is not a release's,
// and a malformed one is an error.
func TestRef(t *testing.T) {
	tests := map[string]struct {
		rec     Record
		want    ref
		wantRef string
	}{
		"plain":        {rec: Record{Name: "web", Namespace: "apps"}, want: ref{namespace: "apps", name: "web"}, wantRef: "helm:apps/web"},
		"storage":      {rec: Record{Name: "web", Namespace: "apps", StorageNamespace: "helm"}, want: ref{namespace: "helm", name: "web"}, wantRef: "helm:helm/web"},
		"keep history": {rec: Record{Name: "web", Namespace: "apps", KeepHistory: true}, want: ref{namespace: "apps", name: "web", keepHistory: true}, wantRef: "helm:apps/web;keep-history"},
		"both": {rec: Record{Name: "web", Namespace: "apps", KeepHistory: true, DisableUninstallHooks: true},
			want: ref{namespace: "apps", name: "web", keepHistory: true, noHooks: true}, wantRef: "helm:apps/web;keep-history;no-hooks"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.rec.Ref(); got != tc.wantRef {
				t.Errorf("Ref() = %q, want %q", got, tc.wantRef)
			}
			got, ok, err := parseRef(tc.rec.Ref())
			if !ok || err != nil {
				t.Fatalf("parseRef: %v %v", ok, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(ref{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, ok, _ := parseRef("kustomize:x"); ok {
		t.Error("a ref of something else read as a release's")
	}
	if _, ok, err := parseRef("helm:noslash"); !ok || err == nil {
		t.Errorf("a malformed ref: %v %v", ok, err)
	}
	if got, _, _ := parseRef("helm:apps/web;no-hooks;keep-history"); !got.noHooks || !got.keepHistory {
		t.Errorf("suffixes in the other order: %+v", got)
	}
}

// TestFailuresOf: the count of failed attempts is read from the latest
// record's labels — a failed or pending attempt of this release, or a
// remediation of it — and is 0 for another release or a deployed one.
func TestFailuresOf(t *testing.T) {
	deployed, failed := string(release.StatusDeployed), string(release.StatusFailed)
	tests := map[string]struct {
		latest map[string]string
		want   int
	}{
		"no records":          {nil, 0},
		"deployed":            {map[string]string{DigestLabel: "d", "status": deployed, FailuresLabel: "0"}, 0},
		"failed":              {map[string]string{DigestLabel: "d", "status": failed, FailuresLabel: "2"}, 2},
		"pending after crash": {map[string]string{DigestLabel: "d", "status": "pending-upgrade", FailuresLabel: "1"}, 1},
		"rolled back":         {map[string]string{DigestLabel: "old", "status": deployed, FailuresLabel: "3", RemediatedLabel: "d"}, 3},
		"another release":     {map[string]string{DigestLabel: "other", "status": failed, FailuresLabel: "4"}, 0},
		"written by Helm":     {map[string]string{"status": failed}, 0},
	}
	for name, tc := range tests {
		if got := failuresOf(tc.latest, "d"); got != tc.want {
			t.Errorf("%s: %d, want %d", name, got, tc.want)
		}
	}
}
