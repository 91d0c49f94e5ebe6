package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/dag/dagsvg"
	"github.com/gitopskit/gitopskit/render"
)

func printYAML(w io.Writer, units []*render.Unit) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	for _, u := range units {
		fmt.Fprintf(w, "# unit %s (revision %s)\n", u.ID, u.Revision)
		for _, wmsg := range u.Warnings {
			fmt.Fprintf(w, "# warning: %s\n", wmsg)
		}
		if u.Err != nil {
			fmt.Fprintf(w, "# error: %v\n", u.Err)
		}
		if u.BlockedBy != "" {
			fmt.Fprintf(w, "# blocked by %s\n", u.BlockedBy)
		}
		for _, o := range u.Objects {
			b, err := render.MarshalYAML(render.MaskSecret(o.Unstructured, key).Object)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "---\n# source: %s\n%s", o.Provenance.File, b)
		}
	}
	return nil
}

type unitJSON struct {
	ID        string         `json:"id"`
	Parent    string         `json:"parent,omitempty"`
	DependsOn []string       `json:"dependsOn,omitempty"`
	Revision  string         `json:"revision,omitempty"`
	Objects   map[string]int `json:"objects"`
	Warnings  []string       `json:"warnings,omitempty"`
	Error     string         `json:"error,omitempty"`
	BlockedBy string         `json:"blockedBy,omitempty"`
}

func printGraph(w io.Writer, g *render.Graph, units []*render.Unit) error {
	out := struct {
		Units    []unitJSON    `json:"units"`
		Edges    []dag.Edge    `json:"edges"`
		Order    []string      `json:"order,omitempty"`
		Problems []dag.Problem `json:"problems,omitempty"`
	}{}
	for _, u := range units {
		j := unitJSON{ID: u.ID, Parent: u.Parent, DependsOn: u.DependsOn, Revision: u.Revision, Objects: map[string]int{}, Warnings: u.Warnings, BlockedBy: u.BlockedBy}
		if u.Err != nil {
			j.Error = u.Err.Error()
		}
		for _, o := range u.Objects {
			j.Objects[o.GetKind()]++
		}
		out.Units = append(out.Units, j)
	}
	dg, err := unitGraph(g)
	if err != nil {
		return err
	}
	out.Edges, out.Problems = dg.Edges(), dg.Problems
	if order, err := dg.Sort(); err == nil {
		out.Order = order
	} else {
		out.Problems = append(out.Problems, dag.Problem{Kind: dag.ProblemCycle, Message: err.Error()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// unitGraph orders the rendered units with dag; Flux's own kinds count as
// served, since the root unit's output is made of them.
func unitGraph(g *render.Graph) (*dag.UnitGraph, error) {
	dunits, err := g.DagUnits()
	if err != nil {
		return nil, err
	}
	return dag.Build(dunits, dag.Options{Preinstalled: render.FluxKinds()})
}

// writeSVG draws the repository's unit graph with the states given.
func writeSVG(ctx context.Context, out io.Writer, g *render.Graph, states map[string]dagsvg.State) error {
	ug, err := unitGraph(g)
	if err != nil {
		return err
	}
	return dagsvg.Write(ctx, out, ug, dagsvg.Options{States: states})
}

// renderStates colours what an offline render knows: units that did not
// render, those held back by them, and suspended ones.
func renderStates(g *render.Graph) map[string]dagsvg.State {
	states := map[string]dagsvg.State{}
	for _, u := range g.Units {
		switch {
		case u.Err != nil:
			states[u.ID] = dagsvg.StateFailed
		case u.BlockedBy != "":
			states[u.ID] = dagsvg.StateBlocked
		case u.Suspended:
			states[u.ID] = dagsvg.StateSuspended
		}
	}
	return states
}
