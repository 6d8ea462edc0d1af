# Thin wrapper over CMake. `make` builds, `make check` runs every test in a
# normal build, an ASan+UBSan build and a clang build; `make demo` runs the
# demo. See README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
CLANG_BUILD ?= build-clang
DEMO_BUILD ?= build-demo
FUZZ_BUILD ?= build-fuzz
SECONDS    ?= 60
VG_BUILD   ?= build-valgrind
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
CTEST_ARGS ?=

.PHONY: vg-build
.PHONY: all build deps check check-normal check-asan check-clang check-valgrind check-valgrind-quick check-tsan lint demo bench fuzz model clean

all: build

build:
	@command -v cmake >/dev/null 2>&1 || scripts/deps.sh all
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMC_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)

deps:
	scripts/deps.sh all

lint:
	scripts/lint/run.sh

check: deps lint check-normal check-asan check-clang check-valgrind check-tsan

check-normal:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMC_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(BUILD) -j$(JOBS)
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j$(JOBS) $(CTEST_ARGS)

check-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DOMC_WERROR=ON -DOMC_ASAN=ON -DOMC_UBSAN=ON $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure --no-tests=error -j$(JOBS) $(CTEST_ARGS)

# The same sources through clang (its warnings differ from gcc's).
check-clang:
	cmake -S . -B $(CLANG_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMC_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(CLANG_BUILD) -j$(JOBS)
	cd $(CLANG_BUILD) && ctest --output-on-failure --no-tests=error -j$(JOBS) $(CTEST_ARGS)

# valgrind memcheck over every unit and KAT test (tests/valgrind.supp), in
# `make check` (about 10 min on 2 idle cores); check-valgrind-quick is the
# VG_QUICK subset, for a quick look (docs/DEVELOPMENT-GUIDE.md).
VG_QUICK ?= ^vg_(aka_|util_|store_|tre_lifecycle_|link_(eea2|frame))
check-valgrind: vg-build
	cd $(VG_BUILD) && ctest --output-on-failure --no-tests=error -j$(JOBS) -L valgrind $(CTEST_ARGS)
check-valgrind-quick: vg-build
	cd $(VG_BUILD) && ctest --output-on-failure --no-tests=error -j$(JOBS) -L valgrind -R '$(VG_QUICK)' $(CTEST_ARGS)
vg-build:
	cmake -S . -B $(VG_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMC_WERROR=ON -DOMC_VALGRIND=ON $(CMAKE_ARGS)
	cmake --build $(VG_BUILD) -j$(JOBS)

# ThreadSanitizer over the tests with threads: the servers (libmicrohttpd's
# pool, group commit), tred, the agent, the factory shared by threads,
# certificates first used by several threads at once (proto_threads_test),
# and server_slow_clients_test for the listener's idle-timeout and
# per-address limit paths under libmicrohttpd's threads; suppressions in
# tests/tsan.supp.
# tred_cli_test is left out: tred waits in accept() for SIGTERM, and TSan
# defers a signal's handler to the next intercepted call, so it never stops
# in its 5 s (a sanitizer artifact; tred_test covers tred's threads).
TSAN_TESTS ?= ^(server_(auc|openapi|restart|secrets|story|crash|refusals|cli|hlr|slow_clients)_test|proto_threads_test|tred_test|agent_test|factory_test|net_http_|change_|recovery_|pcid_renew_|canary_story_|link_e2e_)
check-tsan:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMC_WERROR=ON -DOMC_TSAN=ON $(CMAKE_ARGS)
	cmake --build $(TSAN_BUILD) -j$(JOBS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
		ctest --output-on-failure --no-tests=error -j$(JOBS) -R '$(TSAN_TESTS)' $(CTEST_ARGS)

# The demo needs no test framework: its own build tree, tests off, the CLI only.
demo:
	scripts/deps.sh demo
	cmake -S . -B $(DEMO_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMC_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(DEMO_BUILD) -j$(JOBS) --target openmcim_cli
	./$(DEMO_BUILD)/openmcim demo

# libFuzzer targets (clang, ASan+UBSan) in their own tree, each run for
# SECONDS over its corpus; fails on any crash (docs/fuzzing.md).
fuzz:
	scripts/deps.sh test
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOMC_WERROR=ON -DOMC_FUZZ=ON $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_all
	scripts/fuzz/run.sh $(FUZZ_BUILD) $(SECONDS)

# The SPIN model (model/README.md): safety and liveness on the larger
# configuration; fails on any violation. The bounded one runs under ctest.
MODEL_DIR ?= build-model-spin
model:
	scripts/deps.sh test
	model/check.sh full-safety $(MODEL_DIR)/safety
	model/check.sh full-liveness $(MODEL_DIR)/liveness

bench: build
	./$(BUILD)/openmcim bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(CLANG_BUILD) $(DEMO_BUILD) $(FUZZ_BUILD) $(MODEL_DIR) $(VG_BUILD) $(TSAN_BUILD)
