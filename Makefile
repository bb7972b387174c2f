# orchestrd — the README's two commands, and a few more.
#   make run    install missing packages, build Release, serve config/orchestrd.yaml
#   make test   install missing packages, build, run the whole suite through ctest
#   make bench  build, then run orch_bench (bench/): orchestrd against its peers, one table,
#               also written to $(BUILD_DIR)/bench/results.json and docs/BENCHMARKS.md
#   make stress build, then run the load and fault test (tests/stress) for STRESS_SECONDS

BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CONFIG ?= config/orchestrd.yaml
WERROR ?= ON
STRESS_SECONDS ?= 60
STRESS_CLIENTS ?= 16

.PHONY: all deps configure build run test bench stress clean

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DORCH_WERROR=$(WERROR) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	exec $(BUILD_DIR)/daemon/orchestrd --config $(CONFIG)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

bench: build
	@bench/install-peers
	$(BUILD_DIR)/bench/orch_bench --json $(BUILD_DIR)/bench/results.json \
	  --markdown docs/BENCHMARKS.md --notes bench/NOTES.md

stress: build
	$(BUILD_DIR)/tests/stress/orch_stress --seconds $(STRESS_SECONDS) --clients $(STRESS_CLIENTS)

clean:
	rm -rf $(BUILD_DIR)
