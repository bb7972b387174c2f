# orchestrd — the README's two commands, and a few more.
#   make run    install missing packages, build Release, serve config/orchestrd.yaml
#   make test   install missing packages, build, run the whole suite through ctest
#   make bench  build, then run orch_bench (bench/): orchestrd against its peers, one table,
#               also written to $(BUILD_DIR)/bench/results.json and docs/BENCHMARKS.md
#   make stress build, then run the load and fault test (tests/stress) for STRESS_SECONDS
#   make test-sanitize  the suite under ASan+UBSan (build-asan), runtime unit tests under TSan
#                       (build-tsan); docs/testing.md says what runs where
#   make fuzz-smoke     build the libFuzzer targets with clang (build-fuzz), a few seconds each
#   make fuzz FUZZ_SECONDS=600   a longer run of each fuzz target

BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CONFIG ?= config/orchestrd.yaml
WERROR ?= ON
STRESS_SECONDS ?= 60
STRESS_CLIENTS ?= 16

.PHONY: all deps configure build run test bench stress clean test-sanitize test-asan \
        test-tsan fuzz fuzz-smoke

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

# Sanitizer builds: Debug at -O1, every finding fatal (see ORCH_SANITIZE in CMakeLists.txt).
# Suppressions (third-party code only) live in tests/sanitizers/, documented there.
SAN_DIR := $(CURDIR)/tests/sanitizers
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=0:check_initialization_order=1:strict_init_order=1 \
	LSAN_OPTIONS=suppressions=$(SAN_DIR)/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(SAN_DIR)/ubsan.supp
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(SAN_DIR)/tsan.supp
# TSan runs the unit tests of the runtime (engine, channels, mutexes, schedules, workers, exec,
# admin, ...) but not the client's, which run gRPC's uninstrumented threads.
TSAN_TESTS ?= -ClientTest.*:ClientContext.*
# Without -Werror: `make test` holds the warnings line; GCC 12's flow warnings misfire on
# instrumented code (e.g. -Wmismatched-new-delete on Asio's coroutine frames at -O1).
SAN_CMAKE := -G Ninja -DCMAKE_BUILD_TYPE=Debug -DORCH_WERROR=OFF -DORCH_BUILD_BENCH=OFF

test-sanitize: test-asan test-tsan

test-asan: deps
	@cmake -S . -B build-asan $(SAN_CMAKE) -DORCH_SANITIZE=address,undefined >/dev/null
	@$(ASAN_ENV) cmake --build build-asan -j $(JOBS)  # test discovery runs the binaries too
	cd build-asan && $(ASAN_ENV) ctest --output-on-failure -j $(JOBS) --timeout 600

test-tsan: deps
	@cmake -S . -B build-tsan $(SAN_CMAKE) -DORCH_SANITIZE=thread >/dev/null
	@$(TSAN_ENV) cmake --build build-tsan -j $(JOBS) --target orch_unit_tests
	$(TSAN_ENV) build-tsan/tests/orch_unit_tests --gtest_filter='$(TSAN_TESTS)' --gtest_brief=1

# libFuzzer targets (clang, ASan+UBSan) in build-fuzz; scripts/fuzz says more.
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 5

fuzz-smoke: deps
	JOBS=$(JOBS) scripts/fuzz $(FUZZ_SMOKE_SECONDS)

fuzz: deps
	JOBS=$(JOBS) scripts/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
