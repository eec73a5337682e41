//go:build !cgo

package llamacpp

// Buffers returns nil: there is no engine.
func (m *Model) Buffers() []Buffer { return nil }

// CPUBackends returns nil: there is no engine.
func CPUBackends() []BackendInfo { return nil }
