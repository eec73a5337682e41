# sattva — make targets. The two a newcomer runs:
#   make demo   the main job on the built-in default model
#   make test   every test (what .ci/run runs)
GO        ?= go
BIN       ?= bin/sattva
PKGS      ?= ./...
OLLAMA_MOD = github.com/ollama/ollama

# The C/C++ flags of the cgo build of llama.cpp/ggml, chosen in ONE place
# (scripts/llamacpp/cgoflags.sh; SATTVA_CPU=native by default: SIMD for this
# machine, weight repacking, -O3 -DNDEBUG) and exported to every recipe, so
# build, test, demo and the bench scripts share one warm build cache.
# `sattva version` prints them. Changing them recompiles llama.cpp (minutes).
CGOFLAGS_SH := ./scripts/llamacpp/cgoflags.sh
export CGO_CFLAGS   := $(shell $(CGOFLAGS_SH) CGO_CFLAGS)
export CGO_CXXFLAGS := $(shell $(CGOFLAGS_SH) CGO_CXXFLAGS)
export CGO_CPPFLAGS := $(shell $(CGOFLAGS_SH) CGO_CPPFLAGS)
GO_LDFLAGS  ?= $(shell $(CGOFLAGS_SH) ldflags)

.PHONY: race build demo test test-short fuzz-short cross vet generate backends backends-configure backend-src bundle gpu-test-bin clean

build:
	@echo "go build: the first build compiles llama.cpp with $$CGO_CFLAGS (several minutes)"
	$(GO) build -ldflags "$(GO_LDFLAGS)" -o $(BIN) ./cmd/sattva

# demo builds bin/sattva itself, timing the build (the first compiles llama.cpp).
demo:
	./scripts/demo.sh

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m $(PKGS)
	$(MAKE) cross
	$(MAKE) fuzz-short

# Race detector on every package that does not link llama.cpp (a race build
# of llama.cpp's C++ takes many minutes on two cores). Left out, found by
# their imports: llamacpp itself and the packages that exist to link it —
# evalrun/llamarun (the in-process eval runner), internal/cli and cmd/sattva
# (the command line passes the engine to the pure packages), the
# */differential test packages (they compare with llama.cpp) and
# bench/anchor/lib (the C++ anchor's archive of the same llama.cpp objects:
# it reaches ollama's llama/ and ml/ cgo packages directly). Ollama's pure
# packages (api, parser, template: pipeline's Modelfile tests) stay in.
# internal/archtest keeps every other package free of llamacpp.
race:
	CGO_ENABLED=1 $(GO) test -race -count=1 $$($(GO) list -f '{{if not .Standard}}{{.ImportPath}} {{join .Deps " "}} {{join .TestImports " "}} {{join .XTestImports " "}}{{end}}' ./... | grep -v -e 'sattva/llamacpp' -e 'ollama/ollama/llama/' -e 'ollama/ollama/ml/' | cut -d' ' -f1)

# Every command that needs no llama.cpp builds with CGO_ENABLED=0 for the
# user's platforms.
cross:
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 GOOS=linux   GOARCH=arm64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 GOOS=darwin  GOARCH=arm64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/sattva

fuzz-short:
	./scripts/fuzz-short.sh

generate:
	$(GO) generate ./third_party/...

clean:
	rm -rf bin dist build

# ---- llama.cpp engine (owner: llamacpp) ----------------------------------
# ggml's CPU variants (SIMD) and, where nvcc exists, the CUDA backend, built with
# CMake from the pinned module's own sources into build/backends/lib/ollama.
# sattva loads them from $$SATTVA_BACKEND_DIR or lib/ollama beside the binary.
BACKEND_SRC   ?= build/ggml-src
BACKEND_BUILD ?= build/backends
BACKEND_JOBS  ?= 2
BACKEND_TARGETS ?= ggml-cpu
CMAKE_EXTRA   ?=
# llama.cpp's defaults for the ggml options the module leaves undefined
# (table: docs/llamacpp.md); CMAKE_EXTRA comes after, so it can override them.
GGML_OPTIONS  ?= $(shell ./scripts/llamacpp/ggml-options.sh)

backend-src:
	./scripts/llamacpp/stage-ggml-src.sh "$$($(GO) list -m -f '{{.Dir}}' $(OLLAMA_MOD))" $(BACKEND_SRC)

# (configure alone: internal/ggmlbuild's test checks its compile lines)
backends-configure: backend-src
	cmake -S $(BACKEND_SRC) -B $(BACKEND_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_BUILD_RPATH='$$ORIGIN' $(GGML_OPTIONS) $(CMAKE_EXTRA)

backends: backends-configure
	cmake --build $(BACKEND_BUILD) -j $(BACKEND_JOBS) --target $(BACKEND_TARGETS)
	mkdir -p bin/lib/ollama && cp -a $(BACKEND_BUILD)/lib/ollama/*.so* bin/lib/ollama/
	@# with the CUDA plugin, sattva's own CUDA kernel beside it (llamacpp/cuda)
	if [ -f bin/lib/ollama/libggml-cuda.so ]; then ./scripts/llamacpp/build-cuda-kernels.sh bin/lib/ollama; fi
	@echo "backends in bin/lib/ollama (beside bin/sattva)"

# A folder to copy to the GPU machine: sattva, the llamacpp test binary, the
# module's ggml sources with its CMakeLists.txt, and bench/gpu scripts.
bundle: build backend-src gpu-test-bin
	rm -rf .bundle && mkdir -p .bundle/bin .bundle/bench/gpu .bundle/scripts/llamacpp
	cp bin/sattva bin/llamacpp.test .bundle/bin/
	cp -r bin/testdata .bundle/bin/
	cp -a $(BACKEND_SRC) .bundle/ggml-src
	cp -a bench/gpu/llamacpp.sh .bundle/bench/gpu/
	cp -a scripts/llamacpp/stage-ggml-src.sh .bundle/scripts/llamacpp/
	@echo "bundle in .bundle/: cd .bundle && OUT=... MODEL_8B_Q4KM=... SATTVA_TESTDATA=... bench/gpu/llamacpp.sh"

# The llamacpp tests as a binary for the GPU machine (no Go there):
#   SATTVA_GPU_TEST=1 SATTVA_BACKEND_DIR=... SATTVA_TESTDATA=... bin/llamacpp.test -test.run 'TestBackends|TestGPU' -test.v
# It also copies the stories260K references it needs into bin/testdata (1 MB).
SHARED_TESTDATA ?= $(if $(SATTVA_TESTDATA),$(SATTVA_TESTDATA),../shared/testdata)
gpu-test-bin:
	$(GO) test -c -o bin/llamacpp.test ./llamacpp
	mkdir -p bin/testdata/stories260K/llama2c
	cp -r $(SHARED_TESTDATA)/stories260K/ref bin/testdata/stories260K/
	cp $(SHARED_TESTDATA)/stories260K/llama2c/published_greedy.txt bin/testdata/stories260K/llama2c/
	chmod -R u+w bin/testdata
