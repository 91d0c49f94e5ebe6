// Package apply reconciles rendered objects with a cluster: server-side
// apply in dependency order, health waits, dry-run plans and pruning of what
// a unit no longer renders. It is the stage after dag and records what it
// applied through inventory.
package apply
