# tvs: a plain Makefile with pkg-config.
#   make          build build/tvs and build/libtvs.a
#   make models   fetch face-api weights from npm and verify their SHA-256
#   make test     unit tests (cmocka) + parity tests against face-api, beside a
#                 throwaway PostgreSQL when its binaries are installed
#   make test-browser  the officer console's browser tests alone (also part of make test)
#   make asan     the unit tests under AddressSanitizer + UBSan
#   make bench    benchmarks (figures and ratios against face-api in the same script)
#   make fuzz     each libFuzzer target for FUZZ_SECONDS (default 60)
#
# Sources are picked up by wildcard: src/<area>/<module>.c. Files ending in
# _avx2.c, _avx512.c or _vnni.c (AVX-512 VNNI) are compiled with those ISA flags and only called after
# a runtime CPU check, so one binary runs on any x86-64.

CC      ?= cc
O       ?= build
PKGS    := libturbojpeg libpng jansson openblas cairo libmicrohttpd sqlite3 libsodium libpq
OPT     ?= -O3 -g
SAN     ?=
# CFLAGS/LDFLAGS from the command line are appended, never replace these.
ALL_CFLAGS := $(OPT) $(SAN) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror \
           -Wno-error=unused-parameter -fno-strict-aliasing -pthread -Iinclude -Isrc \
           $(shell pkg-config --cflags $(PKGS)) $(CFLAGS)
ALL_LDFLAGS := $(SAN) $(LDFLAGS)
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm -pthread
TEST_LDLIBS := $(shell pkg-config --libs cmocka libcurl)

AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := $(AVX2_FLAGS) -mavx512f -mavx512bw -mavx512vl -mavx512dq
VNNI_FLAGS   := $(AVX512_FLAGS) -mavx512vnni

LIB_SRC  := $(sort $(wildcard src/*/*.c))
LIB_SRC  := $(filter-out src/cli/%,$(LIB_SRC))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
E2E_SRC  := $(sort $(wildcard tests/e2e/test_e2e_*.c))
BENCH_SRC:= $(sort $(wildcard bench/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(O)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(O)/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(O)/tests/%)
E2E      := $(E2E_SRC:tests/%.c=$(O)/tests/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(O)/bench/%)

all: $(O)/tvs

$(O)/%_vnni.o: %_vnni.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(VNNI_FLAGS) -MMD -MP -c $< -o $@

$(O)/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(AVX512_FLAGS) -MMD -MP -c $< -o $@

$(O)/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(AVX2_FLAGS) -MMD -MP -c $< -o $@

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# the OpenAPI document is compiled into the server (.incbin in report.c)
$(O)/src/svc/report.o: src/svc/openapi.json
# so is the officer console (.incbin in console.c)
$(O)/src/svc/console.o: web/index.html $(wildcard web/console/*)

$(O)/libtvs.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(O)/tvs: $(CLI_OBJ) $(O)/libtvs.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/%: tests/%.c $(O)/libtvs.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka libcurl) -MMD -MP $(ALL_LDFLAGS) -o $@ $< $(O)/libtvs.a $(LDLIBS) $(TEST_LDLIBS)

# black-box tests against a real tvs serve, sharing one harness (tests/e2e/e2e.c)
$(O)/tests/e2e/e2e.o: ALL_CFLAGS += $(shell pkg-config --cflags cmocka libcurl)

$(O)/tests/e2e/%: tests/e2e/%.c $(O)/tests/e2e/e2e.o $(O)/libtvs.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka libcurl) -MMD -MP $(ALL_LDFLAGS) -o $@ $< \
	  $(O)/tests/e2e/e2e.o $(O)/libtvs.a $(LDLIBS) $(TEST_LDLIBS)

$(O)/bench/%: bench/%.c $(O)/libtvs.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(AVX512_FLAGS) -MMD -MP $(ALL_LDFLAGS) -o $@ $< $(O)/libtvs.a $(LDLIBS)

# bench_search also times FAISS IndexFlatIP in the same run when
# libfaiss-dev is installed (Debian's libfaiss.a has no C API, hence the
# C++ shim); without it the bench prints tvs's figures only.
CXX     ?= g++
FAISS_H := $(wildcard /usr/include/faiss/IndexFlat.h)
ifneq ($(FAISS_H),)
$(O)/bench/faiss_baseline.o: bench/faiss_baseline.cpp
	@mkdir -p $(dir $@)
	$(CXX) -O2 -g -fopenmp -c $< -o $@

$(O)/bench/bench_search: bench/bench_search.c $(O)/bench/faiss_baseline.o $(O)/libtvs.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(AVX512_FLAGS) -DTVS_HAVE_FAISS -MMD -MP $(ALL_LDFLAGS) -o $@ $< \
	  $(O)/bench/faiss_baseline.o $(O)/libtvs.a -lfaiss $(LDLIBS) -lstdc++ -lgomp
endif

# Fuzzing (issue 6). Each fuzz/fuzz_NAME.c is a libFuzzer target over the
# library sources in FUZZ_LIB_NAME. `make fuzz` runs each for FUZZ_SECONDS
# (scripts/fuzz.sh); `make test` replays each seed corpus (fuzz/corpus/NAME)
# through the target under ASan + UBSan without libFuzzer (fuzz/replay.c).
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_LIB_image := $(wildcard src/img/*.c)
FUZZ_LIB_mrz := $(wildcard src/doc/*.c)
FUZZ_LIB_paxlst := $(wildcard src/doc/*.c)
FUZZ_LIB_manifest := src/svc/jv.c src/svc/manifest_json.c
FUZZ_CC := clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-error=unused-parameter -pthread \
	-Iinclude -Isrc $(shell pkg-config --cflags libturbojpeg libpng jansson)
FUZZ_LIBS := $(shell pkg-config --libs libturbojpeg libpng jansson) -lm -pthread
FUZZ_REPLAY := $(FUZZ_TARGETS:%=$(O)/fuzz/replay_%)
FUZZ_BIN := $(FUZZ_TARGETS:%=$(O)/fuzz/fuzz_%)

define fuzz_rules
$(O)/fuzz/replay_$(1): fuzz/fuzz_$(1).c fuzz/replay.c $(FUZZ_LIB_$(1)) src/core/error.c
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -DFUZZ_CORPUS='"fuzz/corpus/$(1)"' -o $$@ $$^ $(FUZZ_LIBS)

$(O)/fuzz/fuzz_$(1): fuzz/fuzz_$(1).c $(FUZZ_LIB_$(1)) src/core/error.c
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -o $$@ $$^ $(FUZZ_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rules,$(t))))

FUZZ_SECONDS ?= 60
fuzz: $(FUZZ_BIN)
	@scripts/fuzz.sh $(O) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

models:
	scripts/fetch-models.sh

# The browser tests (tests/browser/*.test.mjs, executable node scripts)
# drive Debian's headless chromium through playwright-core (npm ci) against
# a real tvs serve, after the e2e tests; without either they skip, saying so.
BROWSER_TESTS := $(sort $(wildcard tests/browser/*.test.mjs))

# Each test binary runs from the repository root; tests that need models or
# ../shared skip with a message when those are absent. scripts/with-pg.sh
# starts a throwaway PostgreSQL (initdb in a temporary folder, a unix socket
# only), exports TVS_TEST_PG for the store tests' PostgreSQL group, and stops
# and removes it however the tests end; without Debian's postgresql package it
# says so in one line and that group skips.
test: $(O)/tvs $(TESTS) $(E2E) $(FUZZ_REPLAY)
	@scripts/fetch-models.sh
	@scripts/parity-vectors.sh
	@TVS_BIN=$(O)/tvs scripts/with-pg.sh scripts/run-tests.sh $(TESTS) $(E2E) $(BROWSER_TESTS) $(FUZZ_REPLAY)

# the officer console's browser tests alone (screenshots in out/screenshots/)
test-browser: $(O)/tvs
	@scripts/fetch-models.sh
	@TVS_BIN=$(O)/tvs scripts/run-tests.sh $(BROWSER_TESTS)

asan:
	$(MAKE) O=build-asan CC=clang OPT="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test

bench: $(O)/tvs $(BENCHES)
	@scripts/bench.sh $(O)

clean:
	rm -rf build build-asan

.PHONY: all models test test-browser asan bench fuzz clean
.SECONDARY:

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d) $(E2E:=.d) $(O)/tests/e2e/e2e.d
