// Command sattva takes a fine-tuned Llama model from training data to a fast,
// checked local model: data, train, convert, quantize, run, eval and ship.
package main

import (
	"os"

	"github.com/sattva/sattva/internal/cli"
)

func main() {
	// The first Ctrl-C (or SIGTERM) cancels ctx; a second one exits at once with 130.
	ctx, stop := cli.SignalContext(os.Stderr)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
