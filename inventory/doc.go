// Package inventory records which objects each unit owns, so apply prunes
// only what gitopskit itself applied, and computes what changed between
// two inventories.
//
// An Inventory is a unit's set of Entries (group, version, kind, namespace,
// name, and a digest of what was applied), with the revision it was applied
// from and whether the unit orphans rather than prunes. Diff gives the entries of an old inventory that a new one no
// longer holds — the prune candidates. Inventories live behind the small
// Store interface (Load, Save): MemoryStore for tests and one-shot runs,
// ConfigMapStore in the cluster (gzip-compressed, 20,000 entries fit well
// within the API server's object size limit). Stores that can enumerate
// what they hold implement Lister as well. The inventorytest package is the
// conformance suite every Store passes.
package inventory
