package apply

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
)

// Event is one step of an apply, for progress displays.
type Event struct {
	Type   EventType
	Unit   string
	Object string
	// Action is ssa's action for ObjectApplied: created, configured,
	// unchanged, ...
	Action  string
	Message string
	Err     error
}
