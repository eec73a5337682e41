package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"help", []string{"--help"}, ExitOK},
		{"version", []string{"version"}, ExitOK},
		{"unknown command", []string{"no-such-command"}, ExitUsage},
		{"unknown flag", []string{"version", "--no-such-flag"}, ExitUsage},
		{"too many args", []string{"version", "extra"}, ExitUsage},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			got := Main(context.Background(), c.args, nil, &out, &errOut)
			if got != c.want {
				t.Fatalf("exit %d, want %d; stderr: %s", got, c.want, errOut.String())
			}
		})
	}
}

type badInput struct{}

func (badInput) Error() string      { return "bad file" }
func (badInput) InvalidInput() bool { return true }

func TestExitCodeMapping(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), ExitFailure},
		{fmt.Errorf("wrap: %w", context.Canceled), ExitInterrupted},
		{fmt.Errorf("wrap: %w", badInput{}), ExitInvalidInput},
		{usagef("bad"), ExitUsage},
		{ExitWith(1), 1},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
