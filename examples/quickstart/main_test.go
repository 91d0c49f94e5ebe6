package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

// TestQuickstart runs README's main command end to end on a local control
// plane.
func TestQuickstart(t *testing.T) {
	if os.Getenv(testenv.SkipEnv) == "1" {
		t.Skipf("%s=1", testenv.SkipEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, ""); err != nil {
		t.Fatal(err)
	}
}
