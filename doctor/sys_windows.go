//go:build windows

package doctor

import (
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// diskFree returns the bytes available to this user and the size of the
// volume holding path (GetDiskFreeSpaceEx).
func diskFree(path string) (free, total uint64, err error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, 0, err
	}
	var avail, tot, all uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &tot, &all); err != nil {
		return 0, 0, err
	}
	return avail, tot, nil
}

// setProcessGroup: on Windows exec.CommandContext kills the probe process itself.
func setProcessGroup(cmd *exec.Cmd) {}

// volumeID names the volume holding path ("C:").
func volumeID(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	return strings.ToUpper(filepath.VolumeName(abs))
}
