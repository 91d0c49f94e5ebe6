package dag

import "strings"

// ProblemKind classifies what Check and Build find.
type ProblemKind string

// The problems dag reports.
const (
	ProblemCycle           ProblemKind = "cycle"
	ProblemDuplicateUnit   ProblemKind = "duplicate-unit"
	ProblemMissingUnit     ProblemKind = "missing-unit"
	ProblemMissingCRD      ProblemKind = "missing-crd"
	ProblemCRDNotAncestor  ProblemKind = "crd-not-ancestor"
	ProblemDuplicateObject ProblemKind = "duplicate-object"
	ProblemUnknownObject   ProblemKind = "unknown-object"
	// ProblemDroppedEdge: an inferred edge (CRD, Namespace, readiness)
	// was left out because it would close a cycle with declared ones.
	ProblemDroppedEdge ProblemKind = "dropped-edge"
	// ProblemHealthCheck: a health check names an object no unit renders,
	// or can never be satisfied.
	ProblemHealthCheck ProblemKind = "health-check"
)

// Problem is one finding, naming the unit and object it is about where
// there is one.
type Problem struct {
	Kind    ProblemKind
	Unit    string
	Object  string
	Message string
}

func (p Problem) String() string {
	var parts []string
	for _, s := range []string{p.Unit, p.Object} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	parts = append(parts, p.Message+" ["+string(p.Kind)+"]")
	return strings.Join(parts, ": ")
}

func (p Problem) sortKey() string {
	return p.Unit + "\x00" + p.Object + "\x00" + string(p.Kind) + "\x00" + p.Message
}
