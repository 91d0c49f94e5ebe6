package apply

import (
	"context"
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldManager names a field manager of the server's managedFields, with
// its operation ("Apply" or "Update"; empty means either).
type FieldManager struct {
	Name, Operation string
}

// dropManagers removes from the live object the managedFields entries of
// the managers given — the owner a unit takes an object over from, whose
// fields it now sets — so that gitopskit's field manager is the only one
// left for them. An object with no such entry costs no request.
func (a *actor) dropManagers(ctx context.Context, live *unstructured.Unstructured, managers []FieldManager) error {
	if len(managers) == 0 || live == nil {
		return nil
	}
	entries, _, _ := unstructured.NestedSlice(live.Object, "metadata", "managedFields")
	keep := make([]any, 0, len(entries))
	for _, e := range entries {
		m, _ := e.(map[string]any)
		name, _ := m["manager"].(string)
		op, _ := m["operation"].(string)
		drop := false
		for _, fm := range managers {
			if fm.Name == name && (fm.Operation == "" || fm.Operation == op) {
				drop = true
			}
		}
		if !drop {
			keep = append(keep, e)
		}
	}
	if len(keep) == len(entries) || len(keep) == 0 {
		// Nothing to drop, or nothing would be left (the server keeps
		// managedFields as they are when sent empty).
		return nil
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()},
		{"op": "replace", "path": "/metadata/managedFields", "value": keep},
	})
	if err != nil {
		return err
	}
	return a.client.Patch(ctx, live.DeepCopy(), client.RawPatch(types.JSONPatchType, patch))
}
