// Package inventory records which objects each unit owns, behind a small
// Store interface, and computes what changed between two renders so apply
// prunes only what gitopskit itself applied.
package inventory
