// Command citest checks a Flux repository the way a CI job would, with no
// cluster and no network: it renders every unit (charts from mirrors),
// and reports units that do not render, dependency cycles, custom resources
// whose CRD no unit produces, objects claimed by two units, and — as
// information — the custom resources Flux itself would apply before their
// CRD because nothing in dependsOn orders them.
//
//	go run ./examples/citest -dir ~/fleet -path clusters/dev \
//	    -mirror https://charts.example.com=file:///srv/charts
//
// citest_test.go next to it is the same as a Go test, with golden files of
// every unit's rendered objects: copy it into your repository.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

func main() {
	mirrors := source.Mirrors{}
	fs := flag.NewFlagSet("citest", flag.ExitOnError)
	dir := fs.String("dir", ".", "repository directory")
	path := fs.String("path", "", "path of the root Kustomization, e.g. clusters/dev")
	fs.Var(mirrors, "mirror", "rewrite a source URL prefix, FROM=TO (repeatable)")
	_ = fs.Parse(os.Args[1:])
	n, err := check(context.Background(), *dir, *path, mirrors, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "citest:", err)
		os.Exit(2)
	}
	if n > 0 {
		os.Exit(1)
	}
}

// load renders the repository in dir offline.
func load(ctx context.Context, dir, path string, mirrors source.Mirrors) (*render.Graph, []dag.Unit, error) {
	art, err := source.NewDir(dir, source.DirOptions{}).Fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	g, err := render.Load(ctx, art, path, render.LoadOptions{Mirrors: mirrors})
	if err != nil {
		return nil, nil, err
	}
	units, err := g.DagUnits()
	return g, units, err
}

// check prints every problem and returns how many there are.
func check(ctx context.Context, dir, path string, mirrors source.Mirrors, out io.Writer) (int, error) {
	g, units, err := load(ctx, dir, path, mirrors)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range g.Units {
		if u.Err != nil {
			fmt.Fprintf(out, "error: %v\n", u.Err)
			n++
		}
	}
	for _, p := range dag.Check(units, dag.Options{Preinstalled: render.FluxKinds()}) {
		fmt.Fprintf(out, "error: %s\n", p)
		n++
	}
	// What Flux alone would get wrong: gitopskit orders these itself.
	for _, p := range dag.Check(units, dag.Options{Preinstalled: render.FluxKinds(), ExplicitOnly: true}) {
		if p.Kind == dag.ProblemCRDNotAncestor {
			fmt.Fprintf(out, "note: %s\n", p)
		}
	}
	fmt.Fprintf(out, "%d units, %d problems\n", len(g.Units), n)
	return n, nil
}
