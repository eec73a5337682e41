package llamacpp

import (
	"regexp"
	"strconv"
)

// modelBufferLine matches llama.cpp's load_tensors line
// "load_tensors:   CPU_REPACK model buffer size =   123.45 MiB".
var modelBufferLine = regexp.MustCompile(`^\S+:\s+(\S+)\s+model buffer size\s*=\s*([0-9.]+) MiB`)

// parseModelBuffers turns llama.cpp's load log lines into the model's weight
// buffers, summing repeated names, in order of first appearance.
func parseModelBuffers(lines []string) []Buffer {
	var out []Buffer
	idx := map[string]int{}
	for _, l := range lines {
		m := modelBufferLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		if i, ok := idx[m[1]]; ok {
			out[i].MiB += v
			continue
		}
		idx[m[1]] = len(out)
		out = append(out, Buffer{Name: m[1], MiB: v})
	}
	return out
}
