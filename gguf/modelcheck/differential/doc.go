// Package differential holds the tests that run files modelcheck accepts or
// refuses through llama.cpp itself (package llamacpp), each load in a child
// process (the test binary re-executing itself), so that an abort, a signal
// or a sanitizer report fails the test instead of killing it.
package differential
