# The two set-up-and-go commands are `make demo` and `make test`; both install what they need.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
export MAKEFLAGS := -j2

.PHONY: install build test demo bench asv clean

# Editable install with the test/benchmark dependencies; compiles the C++ core in place.
install:
	$(PIP) install -e ".[dev]"

# Recompile the native core in place after editing C++/Cython (no dependency changes).
build:
	$(PYTHON) setup.py -q build_ext --inplace -j2

test: install
	$(PYTHON) -m pytest -q tests

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
