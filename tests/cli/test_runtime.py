"""``mle-runtime`` (mle_runtime/cli/runtime.py). Run as installed console scripts in subprocesses
(tests/cli_testing.py)."""

import json

from cli_testing import cli

import mle_runtime as mle


def test_version():
    proc = cli("mle-runtime", "--version")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"mle_runtime {mle.__version__}" in out
    for word in ("format", "threads", "CUDA", "SIMD"):
        assert word in out
    proc = cli("mle-runtime", "--version", "--json")
    v = json.loads(proc.stdout)
    assert v["mle_runtime"] == mle.__version__ and v["format"] == "1.8"
    assert v["threads"] == mle._native.build_info()["max_threads"] >= 1
    assert cli("mle-runtime").returncode == 2
