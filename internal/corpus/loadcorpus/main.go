// Command loadcorpus renders cluster paths of flux2-kustomize-helm-example
// with render.Load, as a program embedding gitopskit would, so that
// render's corpus benchmark measures a whole process (time and peak
// memory) the way it measures helm and kustomize.
//
//	loadcorpus -corpus DIR -cache DIR [-cpuprofile FILE] clusters/staging clusters/production
//
// Each path is loaded with a shared cache of its own, as a Reconciler or a
// cli run per cluster has. It fails if any unit fails.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/gitopskit/gitopskit/internal/corpus"
	"github.com/gitopskit/gitopskit/render"
	"github.com/gitopskit/gitopskit/source"
)

func main() {
	dir := flag.String("corpus", "", "the corpus folder of flux2-kustomize-helm-example")
	cache := flag.String("cache", "", "source cache directory")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadcorpus:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*dir, *cache, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "loadcorpus:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(dir, cache string, paths []string) error {
	if dir == "" || cache == "" || len(paths) == 0 {
		return fmt.Errorf("usage: loadcorpus -corpus DIR -cache DIR PATH...")
	}
	ctx := context.Background()
	art, err := source.NewDir(filepath.Join(dir, "fixture", "repo"), source.DirOptions{}).Fetch(ctx)
	if err != nil {
		return err
	}
	units := 0
	for _, p := range paths {
		g, err := render.Load(ctx, art, p, render.LoadOptions{Mirrors: corpus.FluxExampleMirrors(dir), CacheDir: cache, Cache: render.NewSharedCache(0)})
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, u := range g.Units {
			if u.Err != nil {
				return fmt.Errorf("%s: %w", p, u.Err)
			}
		}
		units += len(g.Units)
	}
	fmt.Println(units, "units")
	return nil
}
