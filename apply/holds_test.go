package apply

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestUnchanged: what the server normalises is not drift — a manifest's
// status, an empty list it drops, a quantity it writes canonically — and
// real drift is.
func TestUnchanged(t *testing.T) {
	obj := func(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }
	container := func(resources map[string]any, extra map[string]any) map[string]any {
		c := map[string]any{"name": "c", "image": "redis:8", "resources": resources}
		for k, v := range extra {
			c[k] = v
		}
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d", "namespace": "n"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{c}}}}}
	}
	tests := map[string]struct {
		desired, live map[string]any
		want          bool
	}{
		"canonical quantities": {
			desired: container(map[string]any{"limits": map[string]any{"cpu": "1000m", "memory": "1024Mi"}}, nil),
			live:    container(map[string]any{"limits": map[string]any{"cpu": "1", "memory": "1Gi"}}, nil),
			want:    true,
		},
		"a changed quantity": {
			desired: container(map[string]any{"limits": map[string]any{"memory": "1024Mi"}}, nil),
			live:    container(map[string]any{"limits": map[string]any{"memory": "2Gi"}}, nil),
		},
		"strings elsewhere are not quantities": {
			desired: container(nil, map[string]any{"image": "redis:1000m"}),
			live:    container(nil, map[string]any{"image": "redis:1"}),
		},
		"an empty list the server dropped": {
			desired: container(nil, map[string]any{"imagePullSecrets": []any{}, "env": map[string]any{}}),
			live:    container(nil, nil),
			want:    true,
		},
		"a list the server lost": {
			desired: container(nil, map[string]any{"args": []any{"--x"}}),
			live:    container(nil, nil),
		},
		"a CRD's status stanza": {
			desired: map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": map[string]any{"name": "x"},
				"spec": map[string]any{"group": "g"}, "status": map[string]any{"acceptedNames": map[string]any{"kind": ""}}},
			live: map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": map[string]any{"name": "x"},
				"spec": map[string]any{"group": "g"}, "status": map[string]any{"acceptedNames": map[string]any{"kind": "X"}}},
			want: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := obj(tc.desired)
			id := entryOf(o).ID()
			d := digests{last: map[string]string{id: "x"}, now: map[string]string{id: "x"}}
			if got := d.unchanged(o, obj(tc.live)); got != tc.want {
				t.Errorf("unchanged = %v, want %v", got, tc.want)
			}
		})
	}
}
