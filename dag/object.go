package dag

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/object/dependson"
)

// GroupKind is apimachinery's group and kind, named here for brevity.
type GroupKind = schema.GroupKind

// ObjectRef names an object by group, kind, namespace and name: all dag
// knows of objects.
type ObjectRef struct {
	Group, Kind, Namespace, Name string
}

// String reads like kubectl's names: Kind[.group]/[namespace/]name.
func (r ObjectRef) String() string {
	s := r.Kind
	if r.Group != "" {
		s += "." + r.Group
	}
	if r.Namespace != "" {
		s += "/" + r.Namespace
	}
	return s + "/" + r.Name
}

// GroupKind returns the object's group and kind.
func (r ObjectRef) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: r.Group, Kind: r.Kind}
}

// RefOf returns the reference of an unstructured object.
func RefOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// Object is what ordering needs to know of one object.
type Object struct {
	ObjectRef
	// DependsOn lists the objects named by its config.kubernetes.io/depends-on
	// annotation.
	DependsOn []ObjectRef
	// Defines is, for a CustomResourceDefinition, the kind it serves; nil
	// for every other object.
	Defines *schema.GroupKind
}

// ObjectOf extracts what dag needs from an unstructured object: its
// reference, the depends-on annotation (parsed with cli-utils' parser, so
// the format is the one kpt and cli-utils use), and for a
// CustomResourceDefinition the kind it defines. Errors name the object.
func ObjectOf(u *unstructured.Unstructured) (Object, error) {
	o := Object{ObjectRef: RefOf(u)}
	if dependson.HasAnnotation(u) {
		deps, err := dependson.ReadAnnotation(u)
		if err != nil {
			return o, fmt.Errorf("%s: annotation %s: %w", o.ObjectRef, dependson.Annotation, err)
		}
		for _, d := range deps {
			o.DependsOn = append(o.DependsOn, ObjectRef{Group: d.GroupKind.Group, Kind: d.GroupKind.Kind, Namespace: d.Namespace, Name: d.Name})
		}
	}
	if o.Group == "apiextensions.k8s.io" && o.Kind == "CustomResourceDefinition" {
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		if group == "" || kind == "" {
			return o, fmt.Errorf("%s: spec.group and spec.names.kind are required", o.ObjectRef)
		}
		o.Defines = &schema.GroupKind{Group: group, Kind: kind}
	}
	return o, nil
}
