//go:build unix

package render

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/internal/memo"
	"github.com/gitopskit/gitopskit/source"
)

// cliTools builds helm and kustomize from the nested internal/clitools
// module (or takes them from GITOPSKIT_CLI_BIN) for the CLI comparison.
func cliTools(b *testing.B) string {
	if dir := os.Getenv("GITOPSKIT_CLI_BIN"); dir != "" {
		return dir
	}
	_, file, _, _ := runtime.Caller(0)
	mod := filepath.Join(filepath.Dir(file), "..", "internal", "clitools")
	out := b.TempDir()
	cmd := exec.Command("go", "build", "-o", out+string(filepath.Separator), "tool")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building helm and kustomize in %s: %v\n%s", mod, err, msg)
	}
	return out
}

// BenchmarkRenderFleetCLI renders the same fleet as BenchmarkRenderFleet
// three ways in one run: the CLI pipeline a user would script (kustomize
// build per unit, helm template per release, one process each), gitopskit
// in-process with no cache, and gitopskit with every unit cached. It
// reports wall time per fleet and peak resident memory (for the CLI: the
// largest single process; in-process: this test process).
func BenchmarkRenderFleetCLI(b *testing.B) {
	bin := cliTools(b)
	art, chart, kss, hrs := benchFleet(b, 100)
	b.Run("cli", func(b *testing.B) {
		var peak int64
		tmp := b.TempDir()
		run := func(name string, args ...string) {
			kib, err := runCLI(tmp, filepath.Join(bin, name), args...)
			if err != nil {
				b.Fatal(err)
			}
			peak = max(peak, kib)
		}
		for b.Loop() {
			for i := range kss {
				run("kustomize", "build", filepath.Join(art.Path, fmt.Sprintf("apps/app%03d/dev", i)))
			}
			for i := range hrs {
				run("helm", "template", fmt.Sprintf("rel%03d", i), chart.Path, "--namespace", "cert-manager",
					"--include-crds", "--set", fmt.Sprintf("replicas=%d", i%5+1))
			}
		}
		b.ReportMetric(float64(peak)/1024, "peak-MiB")
	})
	inProcess := func(b *testing.B, cache *Cache) { renderFleet(b, cache, art, chart, kss, hrs) }
	b.Run("gitopskit-cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			memo.ClearAll() // a cold start remembers nothing
			b.StartTimer()
			inProcess(b, nil)
		}
		b.ReportMetric(float64(maxRSS())/1024, "peak-MiB")
	})
	b.Run("gitopskit-cold-parallel", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			memo.ClearAll() // a cold start remembers nothing
			b.StartTimer()
			renderFleetParallel(b, art, chart, kss, hrs)
		}
		b.ReportMetric(float64(maxRSS())/1024, "peak-MiB")
	})
	b.Run("gitopskit-warm", func(b *testing.B) {
		cache := NewCache(0)
		inProcess(b, cache)
		for b.Loop() {
			inProcess(b, cache)
		}
		b.ReportMetric(float64(maxRSS())/1024, "peak-MiB")
	})
}

// runCLI runs a command and returns its peak resident memory in KiB, or 0
// when it cannot be known. The child's own rusage would not do: on Linux a
// child started with vfork+exec reports at least its parent's peak, which
// here is the benchmark process. GNU time, when installed, forks the
// command from a small process and reports the command's own peak. Safe
// for concurrent use.
func runCLI(dir, name string, args ...string) (int64, error) {
	gnuTime := "/usr/bin/time"
	if _, err := os.Stat(gnuTime); err != nil {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
		}
		return 0, nil
	}
	f, err := os.CreateTemp(dir, "rss")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", f.Name(), name}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, err
	}
	kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: peak memory %q: %v", gnuTime, data, err)
	}
	return kib, nil
}

// maxRSS is this process's peak resident memory in KiB. On Linux it is
// the high-water mark of the running image (VmHWM): getrusage's ru_maxrss
// also counts what the process held before exec, so under go test it
// starts at the go command's own resident size.
func maxRSS() int64 {
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(data)) {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				if kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64); err == nil {
					return kib
				}
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss
}

// renderFleetParallel renders the fleet with one worker per CPU, as a
// caller rendering a whole repository would.
func renderFleetParallel(b *testing.B, art, chart *source.Artifact, kss, hrs []*unstructured.Unstructured) {
	ctx := context.Background()
	k := NewKustomize(KustomizeOptions{})
	h := NewHelm(HelmOptions{})
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, u := range kss {
		g.Go(func() error { _, err := k.Render(ctx, art, u); return err })
	}
	for _, u := range hrs {
		g.Go(func() error { _, err := h.Render(ctx, chart, u); return err })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}
