// Command render loads a Flux repository from a directory — a checkout or a
// working tree with uncommitted changes — with no cluster and, given
// mirrors, no network, and prints either every rendered object as YAML
// (grouped by unit, Secrets masked) or the unit graph as JSON.
//
//	go run ./examples/render -dir ~/fleet -path ./clusters/dev \
//	    -mirror https://charts.jetstack.io=file:///srv/mirror/jetstack
//	go run ./examples/render -dir ~/fleet -path ./clusters/dev -output graph
//	go run ./examples/render -dir ~/fleet -path ./clusters/dev -unit HelmRelease/cert-manager/cert-manager
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/dag"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

type mirrors source.Mirrors

func (m mirrors) String() string { return fmt.Sprint(map[string]string(m)) }
func (m mirrors) Set(v string) error {
	from, to, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want FROM=TO")
	}
	m[from] = to
	return nil
}

type config struct {
	dir, path, unit, output string
	mirrors                 source.Mirrors
}

func main() {
	cfg := config{mirrors: source.Mirrors{}}
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	fs.StringVar(&cfg.dir, "dir", ".", "repository directory (a checkout or working tree)")
	fs.StringVar(&cfg.path, "path", "./clusters/dev", "path of the root Kustomization inside the repository")
	fs.StringVar(&cfg.unit, "unit", "", "print only this unit (Kind/namespace/name)")
	fs.StringVar(&cfg.output, "output", "yaml", "yaml (objects by unit) or graph (units and edges as JSON)")
	fs.Var(mirrors(cfg.mirrors), "mirror", "rewrite a source URL prefix, FROM=TO (repeatable)")
	_ = fs.Parse(os.Args[1:])
	if err := run(context.Background(), cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, w io.Writer) error {
	art, err := source.NewDir(cfg.dir, source.DirOptions{}).Fetch(ctx)
	if err != nil {
		return err
	}
	g, err := render.Load(ctx, art, cfg.path, render.LoadOptions{Mirrors: cfg.mirrors})
	if err != nil {
		return err
	}
	units := g.Units
	if cfg.unit != "" {
		u := g.Unit(cfg.unit)
		if u == nil {
			return fmt.Errorf("no unit %s", cfg.unit)
		}
		units = []*render.Unit{u}
	}
	switch cfg.output {
	case "yaml":
		return printYAML(w, units)
	case "graph":
		return printGraph(w, g, units)
	}
	return fmt.Errorf("unknown output %q (yaml or graph)", cfg.output)
}

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
			b, err := yaml.Marshal(render.MaskSecret(o.Unstructured, key).Object)
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
	dunits, err := g.DagUnits()
	if err != nil {
		return err
	}
	flux := []dag.GroupKind{
		{Group: render.KustomizeGroup, Kind: "Kustomization"}, {Group: render.HelmGroup, Kind: "HelmRelease"},
		{Group: render.SourceGroup, Kind: "GitRepository"}, {Group: render.SourceGroup, Kind: "HelmRepository"},
		{Group: render.SourceGroup, Kind: "OCIRepository"},
	}
	dg, err := dag.Build(dunits, dag.Options{Preinstalled: flux})
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
