# The two set-up-and-go commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
export MAKEFLAGS := -j2

.PHONY: install build test wheel-smoke demo bench asv clean

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

clean:
	rm -rf build dist *.egg-info mle_runtime/*.so _native/mle_native.cpp .pytest_cache
