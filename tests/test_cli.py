"""The installed console scripts (pyproject.toml ``[project.scripts]``), run in subprocesses:
output, exit codes, errors on stderr. A missing script fails the test: install the package
(``pip install -e ".[dev]"``) before running the suite."""

import json
import os
import shutil
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle

SCRIPTS = ("mle-export", "mle-inspect", "mle-benchmark", "mle-runtime", "mle")


def script(name):
    """The installed console script ``name``: next to the interpreter, else on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"console script {name!r} is not installed (looked next to "
                    f"{sys.executable} and on PATH); run: pip install -e '.[dev]'")
    return found


def cli(name, *args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([script(name), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=full_env)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    X, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    joblib.dump(model, d / "model.joblib")
    joblib.dump(model, d / "model3.joblib", compress=3)
    np.save(d / "X.npy", X)
    np.savetxt(d / "X.csv", X, delimiter=",", header="a,b,c,d", comments="")
    return d, model, X


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_installed_with_help(name):
    proc = cli(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout and len(proc.stdout) > 200


@pytest.mark.parametrize("name", SCRIPTS)
def test_usage_errors_exit_2(name):
    proc = cli(name, "--no-such-option")
    assert proc.returncode == 2
    assert "usage:" in proc.stderr and proc.stdout == ""


def test_version():
    proc = cli("mle-runtime", "--version")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"mle_runtime {mle.__version__}" in out
    for word in ("format", "OpenMP", "CUDA", "SIMD"):
        assert word in out
    proc = cli("mle-runtime", "--version", "--json")
    v = json.loads(proc.stdout)
    assert v["mle_runtime"] == mle.__version__ and v["format"] == "1.1"
    assert v["openmp"] == mle._native.build_info()["openmp"]
    assert cli("mle-runtime").returncode == 2


@pytest.mark.parametrize("source", ["model.joblib", "model3.joblib"])
def test_export_then_inspect(source, files):
    d, model, X = files
    out = d / (source + ".mle")
    proc = cli("mle-export", d / source, out, "--compress", "zstd:5", "--model-version",
               "1.2.3", "--metadata", '{"team": "risk"}')
    assert proc.returncode == 0, proc.stderr
    assert "can execute" in proc.stderr or "runs whatever code" in proc.stderr
    assert "wrote" in proc.stdout
    np.testing.assert_array_equal(mle.load(out).predict(X), model.predict(X))
    proc = cli("mle-inspect", out, "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["model_class"] == "sklearn.RandomForestClassifier"
    assert info["model_version"] == "1.2.3" and info["user_metadata"] == {"team": "risk"}
    assert info["compression"] == {"method": "zstd", "level": 5}
    proc = cli("mle-inspect", out)
    assert proc.returncode == 0
    assert "RandomForestClassifier" in proc.stdout and info["content_hash"] in proc.stdout


def test_export_errors(files, tmp_path):
    d, _, _ = files
    proc = cli("mle-export", d / "missing.joblib", tmp_path / "x.mle")
    assert proc.returncode == 1 and "mle-export: error:" in proc.stderr
    joblib.dump(StandardScaler, tmp_path / "cls.joblib")  # a class, not a fitted model
    proc = cli("mle-export", tmp_path / "cls.joblib", tmp_path / "x.mle")
    assert proc.returncode == 1 and "error:" in proc.stderr
    assert not (tmp_path / "x.mle").exists()
    proc = cli("mle-export", d / "model.joblib", tmp_path / "x.mle", "--metadata", "{bad")
    assert proc.returncode == 1 and "JSON" in proc.stderr
    proc = cli("mle-export", d / "model.joblib", tmp_path / "x.mle", "--compress", "lz4")
    assert proc.returncode == 1 and "lz4" in proc.stderr
    (tmp_path / "junk.pkl").write_bytes(b"\x80\x04junk")
    proc = cli("mle-export", tmp_path / "junk.pkl", tmp_path / "x.mle")
    assert proc.returncode == 1 and "cannot load" in proc.stderr


def test_inspect_errors(files, tmp_path):
    d, _, _ = files
    proc = cli("mle-inspect", d / "model.joblib")
    assert proc.returncode == 1 and "pickle" in proc.stderr and proc.stdout == ""
    proc = cli("mle-inspect", tmp_path / "nothing.mle")
    assert proc.returncode == 1 and "mle-inspect: error:" in proc.stderr


def test_keygen_sign_verify(files, tmp_path):
    d, model, X = files
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    proc = cli("mle", "keygen", tmp_path / "k.pem")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0
    assert (tmp_path / "k.pem.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert cli("mle", "keygen", tmp_path / "k.pem").returncode == 1  # never overwritten
    cli("mle", "keygen", tmp_path / "other.pem", "--public", tmp_path / "other.pub")
    proc = cli("mle", "verify", path, "--public-key", tmp_path / "k.pem.pub")
    assert proc.returncode == 1 and "not signed" in proc.stderr
    proc = cli("mle", "sign", path, "--key", tmp_path / "k.pem")
    assert proc.returncode == 0, proc.stderr and "signed" in proc.stdout
    proc = cli("mle", "verify", path, "--public-key", tmp_path / "k.pem.pub")
    assert proc.returncode == 0 and proc.stdout.startswith("OK")
    proc = cli("mle", "verify", path, "--public-key", tmp_path / "other.pub")
    assert proc.returncode == 1 and "another key" in proc.stderr
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 4
    (tmp_path / "bad.mle").write_bytes(bytes(data))
    proc = cli("mle", "verify", tmp_path / "bad.mle", "--public-key", tmp_path / "k.pem.pub")
    assert proc.returncode == 1 and "error:" in proc.stderr
    proc = cli("mle-inspect", path, "--public-key", tmp_path / "k.pem.pub", "--json")
    assert json.loads(proc.stdout)["signature"]["verified"] is True
    proc = cli("mle", "sign", path, "--key", tmp_path / "k.pem", "-o", tmp_path / "copy.mle")
    assert proc.returncode == 0 and (tmp_path / "copy.mle").exists()
    assert cli("mle").returncode == 2


def test_encrypted_through_the_cli(files, tmp_path):
    d, model, X = files
    out = tmp_path / "e.mle"
    env = {"MLE_TEST_PASS": "s3cret"}
    proc = cli("mle-export", d / "model.joblib", out, "--passphrase-env", "MLE_TEST_PASS",
               env=env)
    assert proc.returncode == 0, proc.stderr
    proc = cli("mle-inspect", out)
    assert proc.returncode == 0 and "AES-256-GCM" in proc.stdout and "encrypted" in proc.stdout
    proc = cli("mle-inspect", out, "--json", "--passphrase-env", "MLE_TEST_PASS", env=env)
    assert json.loads(proc.stdout)["model_class"] == "sklearn.RandomForestClassifier"
    proc = cli("mle-inspect", out, "--passphrase-env", "MLE_TEST_PASS",
               env={"MLE_TEST_PASS": "wrong"})
    assert proc.returncode == 1 and "wrong key" in proc.stderr
    (tmp_path / "aes.key").write_text(os.urandom(32).hex())
    proc = cli("mle-export", d / "model.joblib", out, "--key-file", tmp_path / "aes.key")
    assert proc.returncode == 0, proc.stderr
    proc = cli("mle-benchmark", out, d / "X.npy", "--key-file", tmp_path / "aes.key",
               "--repeat", "3")
    assert proc.returncode == 0, proc.stderr


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
