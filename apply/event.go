package apply

import "github.com/gitopskit/gitopskit/dag"

// EventType says what an Event reports.
type EventType string

// The events an Applier emits.
const (
	UnitStarted   EventType = "UnitStarted"
	UnitReady     EventType = "UnitReady"
	UnitFailed    EventType = "UnitFailed"
	UnitBlocked   EventType = "UnitBlocked"
	UnitSkipped   EventType = "UnitSkipped"
	ObjectApplied EventType = "ObjectApplied"
	ObjectPruned  EventType = "ObjectPruned"
	// ObjectDrifted reports an object that no longer holds what was
	// applied and is left so (Unit.Drift DriftWarn).
	ObjectDrifted EventType = "ObjectDrifted"
	// UnitRemediated reports a failed release set right (Unit.Remediation):
	// Message says how ("rolled back to revision 3", "uninstalled").
	UnitRemediated EventType = "UnitRemediated"
)

// Event is one step of an apply, for progress displays.
type Event struct {
	Type EventType
	Unit string
	// Object is the object an ObjectApplied or ObjectPruned event is
	// about.
	Object dag.ObjectRef
	// Action is ssa's action for ObjectApplied: created, configured,
	// unchanged, ...
	Action  string
	Message string
	Err     error
}

// String reads as a progress line: "<unit> ready", "<object> created",
// "<unit> failed: <error>".
func (e Event) String() string {
	switch e.Type {
	case ObjectApplied:
		if e.Message != "" {
			return e.Object.String() + " " + e.Action + " " + e.Message // "moved from <unit>"
		}
		return e.Object.String() + " " + e.Action
	case ObjectPruned:
		return e.Object.String() + " pruned"
	case ObjectDrifted:
		return e.Object.String() + " drifted (left as it is)"
	case UnitStarted:
		return e.Unit + " started"
	case UnitReady:
		return e.Unit + " ready"
	case UnitSkipped:
		return e.Unit + " skipped"
	case UnitBlocked:
		return e.Unit + " blocked: " + e.Message
	case UnitFailed:
		return e.Unit + " failed: " + e.Err.Error()
	case UnitRemediated:
		return e.Unit + " remediated: " + e.Message
	}
	return string(e.Type) + " " + e.Unit + " " + e.Object.String()
}
