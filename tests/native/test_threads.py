"""The default thread count of the native pool (what ``n_threads=None``/``0`` means)."""

import json
import os
import subprocess
import sys

import pytest

import mle_runtime as mle

CODE = "import json, mle_runtime; print(json.dumps(mle_runtime._native.build_info()))"


def build_info_with(env_changes):
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    env.update(env_changes)
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs sched_getaffinity")
def test_default_is_the_cpus_this_process_may_use():
    assert build_info_with({})["max_threads"] == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value, expected", [("3", 3), ("5,2", 5), ("1", 1)])
def test_omp_num_threads_is_honoured(value, expected):
    assert build_info_with({"OMP_NUM_THREADS": value})["max_threads"] == expected


@pytest.mark.parametrize("value", ["0", "-2", "many", ""])
def test_invalid_omp_num_threads_is_ignored(value):
    default = build_info_with({})["max_threads"]
    assert build_info_with({"OMP_NUM_THREADS": value})["max_threads"] == default


def test_minus_one_means_the_default_count():
    from mle_runtime.runtime.plan import resolve_n_threads

    n = mle._native.build_info()["max_threads"]
    assert resolve_n_threads(-1) == n
    assert resolve_n_threads(-2) == max(1, n - 1)
    assert resolve_n_threads(None) == resolve_n_threads(0) == 0
