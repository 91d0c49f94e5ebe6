//go:build !unix

package filelock

import (
	"context"
)

// Lock is a no-op where flock is not available; builds still install
// atomically by rename, so concurrent builders only waste work.
func Lock(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	return func() {}, nil
}
