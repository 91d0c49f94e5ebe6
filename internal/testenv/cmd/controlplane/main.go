// Command controlplane builds the test control plane's binaries into the
// cache (if they are not there yet) and prints their directory. `make test`
// runs it first so the minutes-long first build shows its progress and a
// broken build stops the run with the go command's own message.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := testenv.Binaries(ctx, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
