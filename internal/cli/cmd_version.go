package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is sattva's version; release builds set it with
// -ldflags "-X github.com/sattva/sattva/internal/cli.Version=v1.2.3".
var Version = "dev"

type versionOptions struct{ JSON bool }

func newVersionCmd(s *Streams) *cobra.Command {
	o := &versionOptions{}
	c := &cobra.Command{
		Use: "version",
		Example: "  sattva version\n" +
			"  sattva version --json",
		Short: "Print sattva's version and build facts",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runVersion(s, o)
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "machine-readable output")
	return c
}

// BuildInfo describes this binary.
type BuildInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Revision  string `json:"revision,omitempty"`
	Engine    string `json:"engine"`
	// EngineBuild: how llama.cpp and ggml were compiled and which CPU
	// features and options (REPACK, …) each loaded backend has.
	EngineBuild *engineBuild `json:"engine_build,omitempty"`
}

func buildInfo() BuildInfo {
	bi := BuildInfo{Version: Version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, Engine: engineName()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				bi.Revision = s.Value
			}
		}
	}
	return bi
}

func runVersion(s *Streams, o *versionOptions) error {
	bi := buildInfo()
	bi.EngineBuild = engineBuildInfo()
	if o.JSON {
		return writeJSON(s.Out, bi)
	}
	fmt.Fprintf(s.Out, "sattva %s (%s %s/%s, engine: %s)\n", bi.Version, bi.GoVersion, bi.OS, bi.Arch, bi.Engine)
	printEngineBuild(s.Out, bi.EngineBuild)
	return nil
}
