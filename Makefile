# kvedge developer entry points (GNU make). The build itself is CMake; this file only strings steps together.
#
#   make run           deps + build, then the demo API on :8081 and kvedge on :8080 (Ctrl-C stops both)
#   make test          deps, the three builds, format check, then ctest in build/, build-asan/ and build-fuzz/
#   make build         build/       (RelWithDebInfo, -Werror)
#   make build-asan    build-asan/  (Debug, ASan + UBSan, -Werror)
#   make build-fuzz    build-fuzz/  (clang, libFuzzer + ASan + UBSan, -Werror): the fuzz targets of tests/fuzz
#   make fuzz          each fuzz target for FUZZ_TIME seconds (600), corpus kept in .fuzz/ (tests/fuzz/README.md)
#   make format        clang-format -i over the C sources; format-check only checks
#   make deps          scripts/install-deps.sh (apt packages + npm ci; idempotent)
#   make install       build/, then cmake --install: PREFIX (/usr/local), SYSCONFDIR (/etc), DESTDIR; uninstall undoes it
#   make deb           the Debian package in DEB_OUT (build-deb/), then lintian (scripts/build-deb.sh)
#   make clean

SHELL := bash
MAKEFLAGS += --no-print-directory
.SHELLFLAGS := -eu -o pipefail -c

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Integration tests pick free ports and private temp dirs, so test files can run in parallel.
CTEST_JOBS ?= 2
CMAKE_FLAGS ?=

# The sanitizer run: leaks are errors (the daemon must free everything on SIGTERM).
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:fast_unwind_on_malloc=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0

# C sources for clang-format: tracked files plus new, not-ignored ones (a clean CI checkout has only tracked).
C_SOURCES = git ls-files -z --cached --others --exclude-standard -- '*.c' '*.h'

# make fuzz: seconds per target, which targets, where the grown corpus and the crashes go (git-ignored).
FUZZ_TIME ?= 600
FUZZ_TARGETS ?= kv_request kv_reply kv_auth config redis_reply kv_keys cache_parse cache_key env_config redis_url
FUZZ_DIR ?= .fuzz

RUN_CONFIG := examples/quickstart.yaml
DEMO_PORT := 8081
KV_URL := http://127.0.0.1:8080

# make install: where things go (CMake's GNUInstallDirs under PREFIX; the config in SYSCONFDIR/kvedge)
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
DEB_OUT ?= build-deb

.PHONY: all deps build build-asan build-fuzz format format-check test fuzz run clean install uninstall deb

all: build

deps:
	@scripts/install-deps.sh

build:
	cmake -S . -B build -DKVE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build build -j$(JOBS)

build-asan:
	cmake -S . -B build-asan -DKVE_WERROR=ON -DKVE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)

# CMAKE_C_COMPILER only matters on the first configure; libFuzzer needs clang (Debian 12: clang-14 + libclang-rt-14-dev).
build-fuzz:
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DKVE_WERROR=ON -DKVE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build build-fuzz -j$(JOBS)

format-check:
	@$(C_SOURCES) | xargs -0 -r clang-format --dry-run -Werror
	@echo "format-check: ok"

format:
	@$(C_SOURCES) | xargs -0 -r clang-format -i

# All three ctest runs always happen; the target fails if any did. The fuzz targets run briefly here
# (KVE_FUZZ_TIME, 10 s each, set at configure time); tests/fuzz/run.sh sets their sanitizer options.
test: deps
	$(MAKE) build
	$(MAKE) build-asan
	$(MAKE) build-fuzz
	$(MAKE) format-check
	@status=0; \
	echo "=== ctest: build (RelWithDebInfo) ==="; \
	ctest --test-dir build --output-on-failure -j$(CTEST_JOBS) || status=1; \
	echo "=== ctest: build-asan (ASan+UBSan, leak checks on) ==="; \
	$(SAN_ENV) ctest --test-dir build-asan --output-on-failure -j$(CTEST_JOBS) || status=1; \
	echo "=== ctest: build-fuzz (libFuzzer targets, short runs) ==="; \
	ctest --test-dir build-fuzz --output-on-failure -j$(CTEST_JOBS) -L fuzz || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED" >&2; fi; \
	exit $$status

# Long fuzzing, one target after the other; new inputs accumulate in $(FUZZ_DIR)/corpus/<target>, crashes land
# in $(FUZZ_DIR)/crashes/<target>/. Every target runs; the status is a failure if any found something.
fuzz: build-fuzz
	@status=0; \
	for t in $(FUZZ_TARGETS); do \
		echo "=== fuzz $$t ($(FUZZ_TIME) s) ==="; \
		tests/fuzz/run.sh build-fuzz/tests/fuzz/fuzz_$$t $$t $(FUZZ_TIME) $(FUZZ_DIR)/crashes $(FUZZ_DIR)/corpus/$$t || status=1; \
	done; \
	if [ $$status -ne 0 ]; then echo "make fuzz: a target failed; inputs are in $(FUZZ_DIR)/crashes/" >&2; fi; \
	exit $$status

# The demo API runs in the background and is stopped by its PID when kvedge exits (Ctrl-C included).
run: deps
	@$(MAKE) --no-print-directory build
	@PORT=$(DEMO_PORT) node examples/demo-api.mjs & demo=$$!; \
	trap 'kill $$demo 2>/dev/null || true; wait $$demo 2>/dev/null || true' EXIT; \
	up=0; \
	for i in $$(seq 50); do \
		if curl -fsS -o /dev/null http://127.0.0.1:$(DEMO_PORT)/ 2>/dev/null; then up=1; break; fi; \
		kill -0 $$demo 2>/dev/null || { echo "make run: the demo API did not start (port $(DEMO_PORT) in use?)" >&2; exit 1; }; \
		sleep 0.1; \
	done; \
	[ $$up = 1 ] || { echo "make run: the demo API did not answer on http://127.0.0.1:$(DEMO_PORT)/ within 5 s" >&2; exit 1; }; \
	echo; \
	echo "  kvedge        $(KV_URL)            (healthz, readyz, metrics: $(KV_URL)/healthz ...)"; \
	echo "  demo API      $(KV_URL)/api/       -> http://127.0.0.1:$(DEMO_PORT)/  (try /api/time, /api/items/1)"; \
	echo "  cached API    $(KV_URL)/cached/    the same through the HTTP cache: curl -si $(KV_URL)/cached/items/1 twice (Cache-Status)"; \
	echo "                make run RUN_CONFIG=examples/cache-api.yaml   the \"cache an API\" example (comments in the file)"; \
	echo "  KV REST API   $(KV_URL)/kv"; \
	echo "    export KV_REST_API_URL=$(KV_URL)/kv KV_REST_API_TOKEN=$${KV_REST_API_TOKEN:-kvedge-quickstart-token}"; \
	echo "    node examples/vercel-kv-example.mjs      # @vercel/kv against kvedge"; \
	echo "  config        $(RUN_CONFIG)        Ctrl-C stops kvedge and the demo API"; \
	echo; \
	./build/kvedge -c $(RUN_CONFIG)

# The binary, kvedge(1) and kvedge.yaml(5), the systemd unit and, unless one is there, $(SYSCONFDIR)/kvedge/kvedge.yaml.
# The kvedge user and /etc/kvedge/kv-token are not made here: see README "Run it in production" (the .deb makes both).
install:
	$(MAKE) build CMAKE_FLAGS="$(CMAKE_FLAGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DCMAKE_INSTALL_SYSCONFDIR=$(SYSCONFDIR)"
	DESTDIR="$(DESTDIR)" cmake --install build

# Removes what build/install_manifest.txt lists (under DESTDIR), except the config, which may have been edited.
uninstall:
	@test -f build/install_manifest.txt || { echo "make uninstall: no build/install_manifest.txt (make install first)" >&2; exit 1; }
	@while IFS= read -r f || [ -n "$$f" ]; do \
		case "$$f" in */kvedge/kvedge.yaml) echo "keeping $(DESTDIR)$$f" ;; *) rm -fv "$(DESTDIR)$$f" ;; esac; \
	done < build/install_manifest.txt

deb:
	@scripts/build-deb.sh $(DEB_OUT)

clean:
	rm -rf build build-asan build-fuzz build-fuzz-cov build-deb
