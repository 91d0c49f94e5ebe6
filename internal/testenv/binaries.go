package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/gitopskit/gitopskit/internal/filelock"
)

// AssetsEnv names the environment variable that points at a directory
// holding ready-made kube-apiserver and etcd binaries; when it is set nothing
// is built. It is the variable envtest itself reads.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// CacheEnv names the environment variable that overrides the directory the
// built binaries are cached in (default: <user cache dir>/gitopskit/controlplane).
const CacheEnv = "GITOPSKIT_CONTROLPLANE_CACHE"

var binaryNames = []string{"kube-apiserver", "etcd"}

// Binaries returns a directory holding kube-apiserver and etcd, building them
// first if the cache has no complete build for the current versions. Progress
// lines go to out (nil discards them).
func Binaries(ctx context.Context, out io.Writer) (string, error) {
	if dir := os.Getenv(AssetsEnv); dir != "" {
		if err := checkBinaries(dir); err != nil {
			return "", fmt.Errorf("%s=%s: %w", AssetsEnv, dir, err)
		}
		return dir, nil
	}
	src, err := moduleDir()
	if err != nil {
		return "", err
	}
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	return build(ctx, src, root, out)
}

// moduleDir finds the nested control-plane module next to this file's
// source. It exists only in a checkout of gitopskit, which is the only place
// internal packages can be used from.
func moduleDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("testenv: cannot locate the control-plane module source; set " + AssetsEnv)
	}
	dir := filepath.Join(filepath.Dir(file), "binaries")
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("testenv: control-plane module not found at %s (built with -trimpath?); set %s to a directory with kube-apiserver and etcd", dir, AssetsEnv)
	}
	return dir, nil
}

func cacheRoot() (string, error) {
	if dir := os.Getenv(CacheEnv); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("testenv: no cache directory for the control plane (set %s): %w", CacheEnv, err)
	}
	return filepath.Join(base, "gitopskit", "controlplane"), nil
}

// cacheKey names a build by the server versions and a digest of every file of
// the module that builds them, so any edit to it means a new build.
func cacheKey(src string) (string, error) {
	var files []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("testenv: read control-plane module: %w", err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("testenv: read control-plane module: %w", err)
		}
		rel, _ := filepath.Rel(src, f)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
		h.Write(b)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:12]
	return fmt.Sprintf("kube-%s-etcd-%s-%s-%s-%s", KubernetesVersion, EtcdVersion, runtime.GOOS, runtime.GOARCH, sum), nil
}

func checkBinaries(dir string) error {
	for _, name := range binaryNames {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("missing %s", name)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file", name)
		}
	}
	return nil
}

// build makes sure root/<key> holds a complete build of the module at src.
// The build goes to a temporary directory that is renamed into place only
// when both binaries are there, so an interrupted build leaves nothing that
// looks complete.
func build(ctx context.Context, src, root string, out io.Writer) (string, error) {
	if out == nil {
		out = io.Discard
	}
	key, err := cacheKey(src)
	if err != nil {
		return "", err
	}
	dest := filepath.Join(root, key)
	if checkBinaries(dest) == nil {
		return dest, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("testenv: create control-plane cache: %w", err)
	}
	lock := filepath.Join(root, key+".lock")
	unlock, err := filelock.Lock(ctx, lock, func() {
		fmt.Fprintf(out, "gitopskit: waiting for another process building the test control plane (%s)\n", lock)
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	if checkBinaries(dest) == nil { // another process built it while we waited
		return dest, nil
	}

	tmp, err := os.MkdirTemp(root, key+".tmp-")
	if err != nil {
		return "", fmt.Errorf("testenv: create control-plane build directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintf(out, "gitopskit: building the test control plane (kube-apiserver %s, etcd %s) into %s; the first build takes several minutes\n",
		KubernetesVersion, EtcdVersion, dest)
	pkg := "k8s.io/component-base/version"
	minor := strings.SplitN(strings.TrimPrefix(KubernetesVersion, "v"), ".", 3)
	ldflags := fmt.Sprintf("-s -w -X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=%[3]s -X %[1]s.gitMinor=%[4]s -X %[1]s.gitTreeState=clean",
		pkg, KubernetesVersion, minor[0], minor[1])
	cmd := exec.CommandContext(ctx, goBinary(), "build", "-o", tmp+string(filepath.Separator),
		"-ldflags", ldflags, "./kube-apiserver", "./etcd")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("testenv: control-plane build interrupted: %w", ctx.Err())
		}
		return "", &BuildError{Dir: src, Err: err, Output: output.String()}
	}
	if err := checkBinaries(tmp); err != nil {
		return "", fmt.Errorf("testenv: control-plane build in %s produced no complete set: %w", src, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return "", fmt.Errorf("testenv: install control-plane build: %w", err)
	}
	fmt.Fprintf(out, "gitopskit: test control plane built into %s\n", dest)
	return dest, nil
}

// goBinary prefers the go command of the running toolchain, so a build
// started from `go test` uses the same Go as the test.
func goBinary() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// BuildError reports a failed build of the control-plane binaries, with the
// output of the go command.
type BuildError struct {
	Dir    string
	Err    error
	Output string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("testenv: building the test control plane (kube-apiserver %s, etcd %s) in %s failed: %v\n%s",
		KubernetesVersion, EtcdVersion, e.Dir, e.Err, strings.TrimSpace(e.Output))
}

func (e *BuildError) Unwrap() error { return e.Err }
