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
    for word in ("format", "threads", "CUDA", "SIMD"):
        assert word in out
    proc = cli("mle-runtime", "--version", "--json")
    v = json.loads(proc.stdout)
    assert v["mle_runtime"] == mle.__version__ and v["format"] == "1.3"
    assert v["threads"] == mle._native.build_info()["max_threads"] >= 1
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


def flipped(data, kind, at=0):
    """``data`` with one bit flipped at byte ``at`` of its section of ``kind`` (CRCs kept)."""
    from mle_runtime.format import container

    s = container.parse(data).find(kind)
    buf = bytearray(data)
    buf[s.offset + at] ^= 0x01
    return bytes(buf)


def test_inspect_verifies_every_checksum_by_default(files, tmp_path):
    from mle_runtime.format import layout as L

    d, model, X = files
    good = tmp_path / "good.mle"
    mle.dump(model, good)
    proc = cli("mle-inspect", good)
    assert proc.returncode == 0, proc.stderr
    assert "verified:" in proc.stdout and "OK: every checksum, the model's graph" in proc.stdout
    bad = tmp_path / "bad.mle"
    bad.write_bytes(flipped(good.read_bytes(), L.SECTION_DATA, at=100))
    for args in ((), ("--verify",), ("--json",)):
        proc = cli("mle-inspect", bad, *args)
        assert proc.returncode == 1, (args, proc.stdout)
        assert "checksum mismatch in section 2 (tensor data)" in proc.stderr
    proc = cli("mle-inspect", bad, "--no-verify", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verified"] is None
    # a compressed file: the flipped byte is in the payload
    comp = tmp_path / "comp.mle"
    mle.dump(model, comp, compress=("zlib", 3))
    (tmp_path / "badcomp.mle").write_bytes(flipped(comp.read_bytes(), L.SECTION_PAYLOAD, 50))
    proc = cli("mle-inspect", tmp_path / "badcomp.mle")
    assert proc.returncode == 1 and "checksum mismatch" in proc.stderr


def test_inspect_verifies_the_signature_of_a_file_modified_behind_its_checksums(files,
                                                                                 tmp_path):
    """A tensor byte changed and every CRC recomputed: only the signature can tell."""
    from mle_runtime.format import layout as L
    from mle_runtime.format import writer
    from mle_runtime.format import container

    d, model, X = files
    path = tmp_path / "signed.mle"
    private, public = mle.generate_keys()
    mle.save_keys(private, tmp_path / "k.pem", tmp_path / "k.pub")
    mle.dump(model, path, sign_with=private)
    c = container.parse(flipped(path.read_bytes(), L.SECTION_DATA, at=100), verify=())
    resealed = writer.pack_sections([(s.kind, bytes(c.payload(s)), 64, s.flags)
                                     for s in c.sections], minor=c.minor)
    (tmp_path / "tampered.mle").write_bytes(resealed)
    proc = cli("mle-inspect", tmp_path / "tampered.mle")
    assert proc.returncode == 0, proc.stderr  # checksums are fine, no key to check with
    assert "not checked: signature" in proc.stdout
    proc = cli("mle-inspect", tmp_path / "tampered.mle", "--public-key", tmp_path / "k.pub")
    assert proc.returncode == 1 and "error:" in proc.stderr
    proc = cli("mle-inspect", path, "--public-key", tmp_path / "k.pub")
    assert proc.returncode == 0 and "the signature" in proc.stdout


def test_inspect_refuses_a_model_file_with_envelope_sections(files, tmp_path):
    """The native loader would skip optional envelope sections and run the plain model while
    inspection described the envelope's inner model: both refuse such a file."""
    from mle_runtime.format import container
    from mle_runtime.format import layout as L

    d, model, X = files
    mle.dump(model, tmp_path / "plain.mle")
    mle.dump(StandardScaler().fit(X), tmp_path / "other.mle", compress=("zlib", 3))
    other = container.parse((tmp_path / "other.mle").read_bytes())
    extra = [(s.kind, bytes(other.payload(s)), L.SECTION_OPTIONAL) for s in other.sections
             if s.kind in (L.SECTION_ENVELOPE, L.SECTION_PAYLOAD)]
    mixed = container.repack(container.parse((tmp_path / "plain.mle").read_bytes()),
                             append=extra)
    (tmp_path / "mixed.mle").write_bytes(mixed)
    for args in ((), ("--no-verify",), ("--json",)):
        proc = cli("mle-inspect", tmp_path / "mixed.mle", *args)
        assert proc.returncode == 1 and "crafted" in proc.stderr, (args, proc.stdout)
    with pytest.raises(mle.FormatError):
        mle.load(tmp_path / "mixed.mle")


def test_inspect_lists_unknown_optional_sections(files, tmp_path):
    from mle_runtime.format import container
    from mle_runtime.format import layout as L

    d, model, X = files
    mle.dump(model, tmp_path / "plain.mle")
    data = container.repack(container.parse((tmp_path / "plain.mle").read_bytes()),
                            append=[(77, b"from a later version", L.SECTION_OPTIONAL)])
    (tmp_path / "extra.mle").write_bytes(data)
    np.testing.assert_array_equal(mle.load(tmp_path / "extra.mle").predict(X), model.predict(X))
    proc = cli("mle-inspect", tmp_path / "extra.mle")
    assert proc.returncode == 0, proc.stderr
    assert "unknown kind 77 (20 B, optional: skipped)" in proc.stdout
    proc = cli("mle-inspect", tmp_path / "extra.mle", "--json")
    assert {"kind": 77, "size": 20, "unknown": True, "optional": True} in \
        json.loads(proc.stdout)["sections"]


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


# ---------------------------------------------------------------- mle-export DIR --------

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
