package dag

import (
	"errors"
	"fmt"
)

// ObjectGraph orders the objects of one unit (or any set of objects): a
// CustomResourceDefinition before the objects of its kind, a Namespace
// before the objects in it, and what a depends-on annotation names before
// the annotated object. Node IDs are ObjectRef strings. References to
// objects outside the set add no edge: they are another unit's business. An
// object listed twice is an error naming it.
func ObjectGraph(objs []Object) (*Graph, error) {
	g := New()
	var errs []error
	for _, o := range objs {
		if err := g.AddNode(o.ObjectRef.String()); err != nil {
			errs = append(errs, fmt.Errorf("%s: listed more than once", o.ObjectRef))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	crds := map[string][]int{}
	namespaces := map[string]int{}
	for i, o := range objs {
		if o.Defines != nil {
			k := kindString(*o.Defines)
			crds[k] = append(crds[k], i)
		}
		if o.Group == "" && o.Kind == "Namespace" {
			namespaces[o.Name] = i
		}
	}
	for i, o := range objs {
		id := o.ObjectRef.String()
		for _, c := range crds[kindString(o.GroupKind())] {
			g.addEdge(c, i, Edge{From: objs[c].ObjectRef.String(), To: id, Reason: ReasonCRD, Detail: objs[c].Name})
		}
		if ns, ok := namespaces[o.Namespace]; ok && o.Namespace != "" {
			g.addEdge(ns, i, Edge{From: objs[ns].ObjectRef.String(), To: id, Reason: ReasonNamespace, Detail: o.Namespace})
		}
		for _, d := range o.DependsOn {
			if n, ok := g.index[d.String()]; ok {
				g.addEdge(n, i, Edge{From: d.String(), To: id, Reason: ReasonAnnotation, Detail: d.String()})
			}
		}
	}
	return g, nil
}
