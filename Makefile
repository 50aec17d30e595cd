# The two set-up-and-go commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
export MAKEFLAGS := -j2

.PHONY: install build test wheel-smoke demo bench asv clean install-fuzz fuzz sanitize

# Editable install with the test/benchmark dependencies; compiles the C++ core in place.
install:
	$(PIP) install -e ".[dev]"

# Recompile the native core in place after editing C++/Cython (no dependency changes).
build:
	$(PYTHON) setup.py -q build_ext --inplace -j2

test: install
	$(PYTHON) -m pytest -q tests

# What users get: builds a wheel from a clean copy of the source tree (the files git tracks or
# would add; no stale build/ directory can hide a missing package), installs it (not editable)
# into a fresh virtual environment (numpy comes from the package index or pip's cache) and runs
# .ci/wheel_smoke.py there, from a directory outside the checkout: every console script,
# load + predict, the README's first example. The models are made here first, since the fresh
# environment has no scikit-learn. The wheel is left in dist/.
wheel-smoke:
	@git rev-parse --is-inside-work-tree >/dev/null || \
	    { echo "wheel-smoke copies the files git tracks: run it in a git checkout"; exit 1; }
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; mkdir "$$tmp/src"; \
	git ls-files -z --cached --others --exclude-standard | \
	    tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$$tmp/src"; \
	(cd "$$tmp/src" && $(PYTHON) setup.py -q build_ext -j2 >/dev/null && \
	    $(PIP) wheel -q --no-deps --no-build-isolation -w "$$tmp/dist" .); \
	mkdir -p dist; rm -f dist/mle_runtime-*.whl; cp "$$tmp"/dist/mle_runtime-*.whl dist/; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check dist/mle_runtime-*.whl; \
	$(PYTHON) .ci/wheel_smoke.py make "$$tmp/files"; \
	cd "$$tmp/files" && "$$tmp/venv/bin/python" "$(CURDIR)/.ci/wheel_smoke.py" check .

demo: install
	$(PYTHON) examples/compare.py

# The side-by-side table against joblib, ONNX Runtime and the frameworks' own predictors.
bench: install
	$(PYTHON) asv_bench/compare.py

# asv against the installed package (see README).
asv: install
	cd asv_bench && asv machine --yes && asv run --python=same --quick --show-stderr

# -- Fuzzing and the sanitizer build (docs/FUZZING.md) -------------------------------------
# `make fuzz`: both atheris harnesses for FUZZ_TIME seconds each (the bounded CI run); the
# corpus grows in build/fuzz/corpus, findings land in build/fuzz/artifacts and fail the target.
# `make sanitize`: the native core built with ASan + UBSan into build/asan (installed into
# build/asan/site, found first through PYTHONPATH; the in-place build is never touched), then
# the fuzz corpus and the hostile-file suites replayed under it.
FUZZ_TIME ?= 90
FUZZ_ARGS ?=
SAN_SITE := $(CURDIR)/build/asan/site
SAN_ENV = LD_PRELOAD="$$(gcc -print-file-name=libasan.so):$$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 PYTHONPATH=$(SAN_SITE) PYTHONSAFEPATH=1
SANITIZE_TESTS ?= tests/format/test_mutation.py tests/format/test_values_mutation.py \
	tests/format/test_envelope_mutation.py tests/format/test_reader_errors.py \
	tests/format/test_values_pandas.py $(wildcard tests/native/test_*validation.py) \
	$(wildcard tests/native/test_*_ops.py) \
	tests/native/test_crc32c.py

install-fuzz:
	$(PIP) install -e ".[dev,fuzz]"

fuzz: install-fuzz
	$(PYTHON) fuzz/run.py --time $(FUZZ_TIME) $(FUZZ_ARGS)

sanitize: install
	MLE_SANITIZE=1 $(PIP) install -q --no-deps --upgrade --target $(SAN_SITE) .
	$(SAN_ENV) $(PYTHON) fuzz/make_corpus.py build/fuzz/seeds
	$(SAN_ENV) $(PYTHON) fuzz/replay.py --sanitized load build/fuzz/seeds/load \
		$(wildcard build/fuzz/corpus/load)
	$(SAN_ENV) $(PYTHON) fuzz/replay.py --sanitized values build/fuzz/seeds/values \
		$(wildcard build/fuzz/corpus/values)
	cd build/asan && $(SAN_ENV) $(PYTHON) -m pytest -q -p no:cacheprovider \
		--rootdir=../.. -c ../../pyproject.toml $(addprefix ../../,$(SANITIZE_TESTS))

clean:
	rm -rf build dist *.egg-info mle_runtime/*.so _native/mle_native.cpp .pytest_cache
