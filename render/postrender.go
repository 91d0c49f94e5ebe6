package render

import (
	"encoding/json"
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// postRender applies HelmRelease kustomize post-renderers in order, each a
// kustomize build over the rendered objects in memory. Patches do not
// rename objects, so provenance carries over by identity.
func postRender(objs []Object, renderers []kustomizePostRenderer) ([]Object, error) {
	prov := map[string]Provenance{}
	for _, o := range objs {
		prov[objectKey(o.Unstructured)] = o.Provenance
	}
	for i, pr := range renderers {
		var docs []byte
		for _, o := range objs {
			b, err := MarshalYAML(o.Object)
			if err != nil {
				return nil, err
			}
			docs = append(docs, "---\n"...)
			docs = append(docs, b...)
		}
		kus := map[string]any{
			"apiVersion": kustypes.KustomizationVersion,
			"kind":       kustypes.KustomizationKind,
			"resources":  []string{"resources.yaml"},
		}
		for field, v := range map[string][]json.RawMessage{
			"patches": pr.Patches, "patchesStrategicMerge": pr.PatchesStrategicMerge,
			"patchesJson6902": pr.PatchesJSON6902, "images": pr.Images,
		} {
			if len(v) > 0 {
				kus[field] = v
			}
		}
		kb, err := yaml.Marshal(kus)
		if err != nil {
			return nil, err
		}
		fsys := filesys.MakeFsInMemory()
		if err := fsys.WriteFile("/pr/resources.yaml", docs); err != nil {
			return nil, err
		}
		if err := fsys.WriteFile("/pr/kustomization.yaml", kb); err != nil {
			return nil, err
		}
		readSchema()
		m, err := krusty.MakeKustomizer(&krusty.Options{LoadRestrictions: kustypes.LoadRestrictionsRootOnly, PluginConfig: kustypes.DisabledPluginConfig()}).Run(fsys, "/pr")
		schemaLock.RUnlock()
		if err != nil {
			return nil, fmt.Errorf("postRenderers[%d]: %w", i, err)
		}
		objs = objs[:0:0]
		for _, r := range m.Resources() {
			u, err := resourceObject(r)
			if err != nil {
				return nil, err
			}
			objs = append(objs, Object{Unstructured: u, Provenance: prov[objectKey(u)]})
		}
	}
	return objs, nil
}
