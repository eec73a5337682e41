//go:build !unix

package ollamatest

import (
	"os"
	"os/exec"
)

func setProcessGroup(cmd *exec.Cmd) {}

func killProcessGroup(p *os.Process) { p.Kill() }
