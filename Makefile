# fleetscale — the commands in README.md. Every target installs missing Debian packages first.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 3

.PHONY: all deps build demo test test-lint test-dev test-asan test-fuzz bench fmt lint package clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

demo: build
	@scripts/demo.sh

test: deps
	@scripts/test.sh

# The four stages of `make test`, runnable one by one.
test-lint: deps
	@scripts/test.sh lint
test-dev: deps
	@scripts/test.sh dev
test-asan: deps
	@scripts/test.sh asan
test-fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/test.sh fuzz

bench: deps
	@scripts/bench.sh

fmt: deps
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

lint: deps
	@scripts/lint.sh

# The Debian package from an optimized build: build/release/fleetscale_<version>_<arch>.deb.
package: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS) --target fleetscale-agent fleetscale-aggregator fleetscalectl
	@cd build/release && cpack -G DEB
	@ls build/release/*.deb

clean:
	rm -rf build
