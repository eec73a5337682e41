//go:build !unix

package pipeline

import (
	"os"
	"os/exec"
)

// On systems without process groups (Windows) the child alone is stopped;
// its own children are left to the job object of the console.
func setProcessGroup(cmd *exec.Cmd) {}

func interruptGroup(p *os.Process) {
	if p != nil {
		p.Kill()
	}
}

func killGroup(p *os.Process) {
	if p != nil {
		p.Kill()
	}
}
