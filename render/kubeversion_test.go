package render

import (
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/discovery"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestBuiltinAPIs: the built-in API list is what the real kube-apiserver
// of DefaultKubeVersion serves, and that version is the one the client
// libraries target.
func TestBuiltinAPIs(t *testing.T) {
	env := testenv.Shared(t)
	if testenv.KubernetesVersion != DefaultKubeVersion {
		t.Fatalf("the test control plane is %s, DefaultKubeVersion %s", testenv.KubernetesVersion, DefaultKubeVersion)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lists {
		if isTestGroup(l.GroupVersion) {
			continue
		}
		got = append(got, l.GroupVersion)
		for _, r := range l.APIResources {
			if !strings.Contains(r.Name, "/") {
				got = append(got, l.GroupVersion+"/"+r.Kind)
			}
		}
	}
	slices.Sort(got)
	got = slices.Compact(got)
	if *update {
		if err := os.WriteFile("builtin-apis.txt", []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(got, BuiltinAPIVersions()); diff != "" {
		t.Errorf("builtin-apis.txt is not what the server serves (-server +file); run go test ./render -run TestBuiltinAPIs -update:\n%s", diff)
	}

	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info")
	}
	for _, d := range info.Deps {
		if d.Path == "k8s.io/client-go" {
			if want := "v1" + strings.TrimPrefix(d.Version, "v0"); want != DefaultKubeVersion {
				t.Errorf("client-go %s targets Kubernetes %s, DefaultKubeVersion is %s", d.Version, want, DefaultKubeVersion)
			}
		}
	}
}

// isTestGroup reports whether a group/version comes from a CRD another
// test in this binary installed, not from the server itself.
func isTestGroup(gv string) bool {
	group, _, _ := strings.Cut(gv, "/")
	return strings.Contains(group, ".") && !strings.HasSuffix(group, ".k8s.io")
}
