//go:build !unix

package testenv

import (
	"context"
	"io"
)

// lockFile is a no-op where flock is not available; builds still install
// atomically by rename, so concurrent builders only waste work.
func lockFile(ctx context.Context, path string, out io.Writer) (func(), error) {
	return func() {}, nil
}
