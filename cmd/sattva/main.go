// Command sattva takes a fine-tuned Llama model from training data to a fast,
// checked local model: data, train, convert, quantize, run, eval and ship.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sattva/sattva/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
