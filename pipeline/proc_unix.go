//go:build unix

package pipeline

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup starts the child as the leader of a new process group, so
// that a signal to -pid reaches it and every process it spawns.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func interruptGroup(p *os.Process) {
	if p != nil {
		syscall.Kill(-p.Pid, syscall.SIGINT)
	}
}

func killGroup(p *os.Process) {
	if p != nil {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
}
