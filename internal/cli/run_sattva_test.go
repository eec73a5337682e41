package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runSattva runs the command line with empty stdin and buffers for its
// output streams, as a user's shell would, and returns the exit code.
func runSattva(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runSattvaIn(t, "", args...)
}

// runSattvaIn is runSattva with stdin.
func runSattvaIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}
