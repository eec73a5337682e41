# sattva — make targets. The two a newcomer runs:
#   make demo   the main job on the built-in default model
#   make test   every test (what .ci/run runs)
GO        ?= go
BIN       ?= bin/sattva
PKGS      ?= ./...
OLLAMA_MOD = github.com/ollama/ollama

.PHONY: build demo test test-short fuzz-short cross vet generate backends bundle clean

build:
	$(GO) build -o $(BIN) ./cmd/sattva

demo: build
	./scripts/demo.sh

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m $(PKGS)
	$(MAKE) cross
	$(MAKE) fuzz-short

# Race detector on the pure-Go packages.
race:
	CGO_ENABLED=1 $(GO) test -race -count=1 $$($(GO) list ./... | grep -v /llamacpp)

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
