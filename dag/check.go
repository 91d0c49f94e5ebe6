package dag

// Check runs the static checks a CI test wants on a repository's units and
// returns every problem found, sorted (none means all passed):
//
//   - duplicate unit IDs, and dependsOn naming a unit that does not exist;
//   - a dependency cycle, with every edge of it and its reason;
//   - a custom resource whose CRD no unit produces and that is not
//     pre-installed (and, with Options.ExplicitOnly, one whose CRD comes
//     from a unit that is not an explicit ancestor);
//   - an object claimed by more than one unit;
//   - a depends-on annotation naming an object no unit holds.
//
// Unlike Build it goes on past malformed units, so one run reports all.
func Check(units []Unit, opts Options) []Problem {
	g, fatal := build(units, opts)
	probs := append(fatal, g.Problems...)
	if c := g.FindCycle(); c != nil {
		probs = append(probs, Problem{Kind: ProblemCycle, Unit: c.Nodes[0], Message: c.Error()})
	}
	sortProblems(probs)
	return probs
}
