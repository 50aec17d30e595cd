"""``mle-export`` (mle_runtime/cli/export.py): single files and directory trees. Run as installed
console scripts in subprocesses (tests/cli_testing.py)."""

import json
import os
import subprocess
import sys

from cli_testing import cli
import joblib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle


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


USER_CODE = '''
class CutOff:
    def __init__(self, value):
        self.value = value
'''


@pytest.fixture
def model_tree(tmp_path):
    """A directory of joblib/pickle files: two supported models, a dict holding one, a file
    holding a user's class (importable through PYTHONPATH, as in the user's project) and a
    corrupt file."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    code = tmp_path / "code"
    code.mkdir()
    (code / "mle_cli_usercode.py").write_text(USER_CODE)
    src = tmp_path / "models"
    (src / "sub").mkdir(parents=True)
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)
    joblib.dump(pipe, src / "pipe.joblib")
    joblib.dump(forest, src / "sub" / "forest.pkl", compress=3)
    joblib.dump({"model": forest, "threshold": 0.3}, src / "bundle.jbl")
    script_text = ("import sys, joblib; sys.path.insert(0, sys.argv[1]); "
                   "from mle_cli_usercode import CutOff; "
                   "joblib.dump({'cut': CutOff(0.7)}, sys.argv[2])")
    proc = subprocess.run([sys.executable, "-c", script_text, str(code),
                           str(src / "sub" / "custom.pickle")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    (src / "broken.joblib").write_bytes((src / "pipe.joblib").read_bytes()[:300])
    env = {"PYTHONPATH": os.pathsep.join(
        [str(code)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))}
    return src, env, {"pipe": pipe, "forest": forest}, X


def test_export_directory_needs_trust(model_tree, tmp_path):
    src, env, _, _ = model_tree
    proc = cli("mle-export", src, tmp_path / "out", env=env)
    assert proc.returncode == 2 and "--trust" in proc.stderr and "code" in proc.stderr
    assert not (tmp_path / "out").exists()
    proc = cli("mle-export", src, "--trust", "--sign-with", tmp_path / "k.pem", env=env)
    assert proc.returncode == 2 and "--sign-with" in proc.stderr
    proc = cli("mle-export", src / "pipe.joblib", tmp_path / "p.mle", "--overwrite", env=env)
    assert proc.returncode == 2 and "directory mode" in proc.stderr
    proc = cli("mle-export", src / "pipe.joblib", env=env)
    assert proc.returncode == 2 and "output" in proc.stderr


def test_export_directory(model_tree, tmp_path):
    src, env, models, X = model_tree
    out = tmp_path / "out"
    proc = cli("mle-export", src, out, "--trust", env=env)
    assert proc.returncode == 1, proc.stderr  # one file needs pickle, one is broken
    text = proc.stdout
    assert "3 converted natively" in text and "1 need pickle" in text and "1 failed" in text
    assert "value['cut'] (mle_cli_usercode.CutOff)" in text
    assert os.path.join("sub", "custom.pickle") in text and "broken.joblib" in text
    assert "cannot load" in text
    assert sorted(os.path.relpath(os.path.join(dp, f), out)
                  for dp, _, fs in os.walk(out) for f in fs) == \
        ["bundle.mle", "pipe.mle", os.path.join("sub", "forest.mle")]
    np.testing.assert_array_equal(mle.load(out / "pipe.mle").predict(X),
                                  models["pipe"].predict(X))
    np.testing.assert_array_equal(mle.load(out / "sub" / "forest.mle").predict_proba(X),
                                  models["forest"].predict_proba(X))
    bundle = mle.load(out / "bundle.mle")
    assert bundle["threshold"] == 0.3
    np.testing.assert_array_equal(bundle["model"].predict(X), models["forest"].predict(X))

    # again: the existing files are skipped (and reported), -q shows only those not converted
    proc = cli("mle-export", src, out, "--trust", "-q", env=env)
    assert proc.returncode == 1
    assert "3 skipped" in proc.stdout and "pipe.joblib" in proc.stdout

    # --allow-pickle --overwrite, without the broken file: everything converts, status 0
    proc = cli("mle-export", src, out, "--trust", "--allow-pickle", "--overwrite",
               "--pattern", "*.pkl", "--pattern", "*.pickle", "--pattern", "*.jbl",
               "--pattern", "pipe.*", "--compress", "zstd:5", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 converted natively" in proc.stdout
    assert "1 converted with a pickle section" in proc.stdout
    assert "0 failed" in proc.stdout
    with pytest.raises(mle.PickleNotAllowedError):
        mle.load(out / "sub" / "custom.mle")
    assert mle.inspect_model(out / "pipe.mle")["compression"] == {"method": "zstd", "level": 5}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, mle_runtime as mle; "
         "print(type(mle.load(sys.argv[1], allow_pickle=True)['cut']).__name__)",
         str(out / "sub" / "custom.mle")], capture_output=True, text=True, timeout=120,
        env={**os.environ, **env})
    assert proc.returncode == 0 and proc.stdout.strip() == "CutOff", proc.stderr


def test_export_directory_in_place_and_not_recursive(model_tree):
    src, env, models, X = model_tree
    proc = cli("mle-export", src, "--trust", "--no-recursive", env=env)
    assert proc.returncode == 1  # broken.joblib
    assert (src / "pipe.mle").is_file() and (src / "bundle.mle").is_file()
    assert not (src / "sub" / "forest.mle").exists() and not (src / "broken.mle").exists()
    proc = cli("mle-export", src, "--trust", "--pattern", "*.none", env=env)
    assert proc.returncode == 0 and "no files matching *.none" in proc.stderr


def test_export_single_file_allow_pickle(model_tree, tmp_path):
    src, env, _, _ = model_tree
    out = tmp_path / "custom.mle"
    proc = cli("mle-export", src / "sub" / "custom.pickle", out, env=env)
    assert proc.returncode == 1 and "allow_pickle" in proc.stderr and not out.exists()
    assert "runs whatever code" in proc.stderr  # the single-file warning, as before
    proc = cli("mle-export", src / "sub" / "custom.pickle", out, "--allow-pickle", env=env)
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(mle.PickleNotAllowedError):
        mle.load(out)
