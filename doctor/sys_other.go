//go:build !unix && !windows

package doctor

import (
	"errors"
	"os/exec"
)

func diskFree(path string) (free, total uint64, err error) {
	return 0, 0, errors.New("not supported on this system")
}

func setProcessGroup(cmd *exec.Cmd) {}

func volumeID(path string) string { return "" }
