// Package ggmlbuild holds the check of how `make backends` configures the
// CMake build of ggml's backend plugins (scripts/llamacpp/ggml-options.sh,
// docs/llamacpp.md "Build options"). It has no code, only its test.
package ggmlbuild
