package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
)

// SkipEnv names the environment variable that, set to 1, makes tests that
// need the control plane skip instead of fail. Without it they fail when the
// control plane cannot be built or started.
const SkipEnv = "GITOPSKIT_SKIP_CONTROLPLANE"

// shared is the one control plane of a test binary, started on first use by
// Config and stopped by Main.
var shared struct {
	once sync.Once
	env  *Environment
	err  error
	// main is set while Main runs the tests: only then is the shared
	// control plane stopped when they end.
	main bool
}

// Main runs a package's tests and stops the shared control plane afterwards.
// Call it from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	shared.main = true
	code := m.Run()
	if shared.env != nil {
		if err := shared.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Config returns a config for the test binary's shared control plane,
// starting it on first use. It fails the test when the control plane cannot
// start, and skips it only when SkipEnv is set to 1.
func Config(t testing.TB) *rest.Config {
	return Shared(t).Config
}

// Shared is Config returning the whole Environment.
func Shared(t testing.TB) *Environment {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1: skipping a test that needs the control plane", SkipEnv)
	}
	if !shared.main {
		// Without Main nothing stops the servers: they would outlive the
		// test binary.
		t.Fatal("testenv.Shared needs the package's TestMain to be: func TestMain(m *testing.M) { testenv.Main(m) }")
	}
	shared.once.Do(func() {
		shared.env, shared.err = Start(context.Background(), Options{Out: os.Stderr})
	})
	if shared.err != nil {
		t.Fatalf("the test control plane is required (set %s=1 to skip such tests): %v", SkipEnv, shared.err)
	}
	return shared.env
}

// ConfigCopy returns a copy of the shared config that a test may change.
func ConfigCopy(t testing.TB) *rest.Config {
	return rest.CopyConfig(Config(t))
}
