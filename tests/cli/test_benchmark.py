"""``mle-benchmark`` (mle_runtime/cli/benchmark.py). Run as installed console scripts in
subprocesses (tests/cli_testing.py)."""

from cli_testing import cli
import numpy as np
import pytest

import mle_runtime as mle


@pytest.mark.parametrize("data", ["X.npy", "X.csv"])
def test_benchmark(data, files):
    d, model, X = files
    path = d / "bench.mle"
    mle.dump(model, path)
    proc = cli("mle-benchmark", path, d / data, "--vs", d / "model.joblib", "--repeat", "5")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "mle_runtime" in out and "joblib" in out and "speed-up" in out
    assert "rows/s" in out and "0 of 150 differ" in out
    proc = cli("mle-benchmark", path, d / data, "--repeat", "3")
    assert proc.returncode == 0 and "speed-up" not in proc.stdout


def test_benchmark_errors(files, tmp_path):
    d, model, _ = files
    path = d / "bench2.mle"
    mle.dump(model, path)
    (tmp_path / "x.txt.gz").write_bytes(b"x")
    proc = cli("mle-benchmark", path, tmp_path / "x.txt.gz")
    assert proc.returncode == 1 and "npy or .csv" in proc.stderr
    np.save(tmp_path / "wrong.npy", np.zeros((3, 7)))
    proc = cli("mle-benchmark", path, tmp_path / "wrong.npy", "--repeat", "2")
    assert proc.returncode == 1 and "7 features" in proc.stderr
    np.save(tmp_path / "obj.npy", np.array([[object()]]), allow_pickle=True)
    proc = cli("mle-benchmark", path, tmp_path / "obj.npy")
    assert proc.returncode == 1 and "error:" in proc.stderr
