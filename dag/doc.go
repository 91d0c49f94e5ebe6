// Package dag orders gitopskit's units and objects. It knows objects only by
// group, kind, namespace and name, and nothing of clients or clusters: it
// takes nodes, infers edges (explicit dependsOn, a CustomResourceDefinition
// before its custom resources, a Namespace before what lives in it), finds
// cycles, and hands out nodes in an order apply can follow.
package dag
