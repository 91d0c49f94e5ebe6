package source

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultTimeout bounds one Fetch of a remote source (Git, Helm, OCI)
// whose options set no Timeout: Flux's default for a source's
// spec.timeout. No network call of a Fetch outlives it.
const DefaultTimeout = 60 * time.Second

// within bounds ctx by timeout (DefaultTimeout when zero). done releases
// it and, when the bound is what stopped the fetch, says so in the error.
func within(ctx context.Context, timeout time.Duration) (context.Context, func(error) error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	bounded, cancel := context.WithTimeout(ctx, timeout)
	return bounded, func(err error) error {
		defer cancel()
		if err != nil && ctx.Err() == nil && errors.Is(bounded.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w (gave up after %s: the source's timeout)", err, timeout)
		}
		return err
	}
}
