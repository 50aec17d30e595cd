"""``from mle_runtime.compat import joblib``: dump/load by mle_runtime, joblib's other names
forwarded lazily to joblib, and the ``allow_pickle=True`` fallback to ``joblib.load`` for
joblib/pickle files."""

import collections
import fractions
import inspect
import io
import json
import pickle
import subprocess
import sys

import joblib as real_joblib
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime.compat import joblib as shim
from mle_runtime.compat import pickle_fallback
from mle_runtime.runtime.proxies import MLEModel

FORWARDED = ("Parallel", "delayed", "Memory", "cpu_count", "effective_n_jobs",
             "parallel_backend", "parallel_config", "register_parallel_backend", "hash",
             "wrap_non_picklable_objects", "MemorizedResult", "expires_after",
             "register_store_backend", "register_compressor", "Logger", "PrintTime",
             "ParallelBackendBase", "StoreBackendBase", "__version__")


@pytest.fixture(scope="module")
def models():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    Xi, yi = load_iris(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=12, random_state=0).fit(Xi, yi)
    return pipe, X, forest, Xi


def _same_predictions(proxy, model, X):
    np.testing.assert_array_equal(proxy.predict(X), model.predict(X))
    np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), rtol=0,
                               atol=1e-9)
    np.testing.assert_array_equal(proxy.predict(X[7:8]), model.predict(X[7:8]))


# ---------------------------------------------------------------- dump / load -----------

def test_dump_and_load_are_mle_runtimes(models, tmp_path):
    pipe, X, _, _ = models
    path = tmp_path / "pipe.mle"
    assert shim.dump(pipe, path) == [str(path)]
    assert path.read_bytes()[:8] == mle.format.layout.MAGIC  # an .mle file, not a pickle
    proxy = shim.load(path)
    assert isinstance(proxy, MLEModel)
    _same_predictions(proxy, pipe, X)
    _same_predictions(mle.load(path), pipe, X)  # and mle_runtime reads what the shim wrote
    mle.dump(pipe, tmp_path / "b.mle")
    _same_predictions(shim.load(tmp_path / "b.mle"), pipe, X)


def test_signatures_are_mle_runtimes():
    assert inspect.signature(shim.dump) == inspect.signature(mle.dump)
    assert inspect.signature(shim.load) == inspect.signature(mle.load)
    kw = inspect.signature(shim.load).parameters["allow_pickle"]
    assert kw.kind is inspect.Parameter.KEYWORD_ONLY and kw.default is False
    # joblib's positional parameters keep their places
    assert list(inspect.signature(real_joblib.dump).parameters)[:4] == \
        list(inspect.signature(shim.dump).parameters)[:4]
    assert list(inspect.signature(real_joblib.load).parameters)[:2] == \
        list(inspect.signature(shim.load).parameters)[:2]


def test_dict_round_trip(models, tmp_path):
    pipe, X, forest, Xi = models
    value = {"model": pipe, "forest": forest, "threshold": 0.35,
             "features": [f"f{i}" for i in range(X.shape[1])],
             "means": X.mean(axis=0), "counts": (1, 2, None)}
    path = tmp_path / "bundle.joblib"  # any name: the content decides
    shim.dump(value, path, compress=3)
    got = shim.load(path)
    assert type(got) is dict and list(got) == list(value)
    _same_predictions(got["model"], pipe, X)
    _same_predictions(got["forest"], forest, Xi)
    assert got["threshold"] == 0.35 and got["features"] == value["features"]
    assert got["counts"] == (1, 2, None)
    np.testing.assert_array_equal(got["means"], value["means"])
    assert got["means"].dtype == np.float64
    for mode in ("r", "c"):
        again = shim.load(path, mode)  # compressed: restored into memory, as joblib does
        _same_predictions(again["model"], pipe, X)


def test_file_objects(models, tmp_path):
    pipe, X, _, _ = models
    buf = io.BytesIO()
    assert shim.dump({"m": pipe, "t": 1}, buf) is None
    buf.seek(0)
    got = shim.load(buf)
    _same_predictions(got["m"], pipe, X)
    buf.seek(0)
    got = shim.load(buf, allow_pickle=True)  # an .mle file object: no fallback involved
    assert got["t"] == 1


def test_pickle_section_needs_allow_pickle(tmp_path):
    path = tmp_path / "v.mle"
    value = {"ratio": fractions.Fraction(1, 3), "x": np.arange(3)}
    with pytest.raises(mle.UnsupportedModelError, match=r"value\['ratio'\]"):
        shim.dump(value, path)
    assert not path.exists()
    shim.dump(value, path, allow_pickle=True)
    with pytest.raises(mle.PickleNotAllowedError, match="allow_pickle=True"):
        shim.load(path)
    got = shim.load(path, allow_pickle=True)
    assert got["ratio"] == value["ratio"]
    np.testing.assert_array_equal(got["x"], value["x"])


def test_mmap_modes_of_arrays(tmp_path):
    path = tmp_path / "arrays.mle"
    a = np.arange(200_000, dtype=np.float64).reshape(400, 500)
    shim.dump({"a": a}, path)
    m = shim.load(path, mmap_mode="r")["a"]
    assert isinstance(m, np.memmap) and not m.flags.writeable
    np.testing.assert_array_equal(m, a)
    with pytest.raises(ValueError, match="mmap_mode"):
        shim.load(path, mmap_mode="r+")


# ---------------------------------------------------------------- joblib files ----------

@pytest.mark.parametrize("compress", [0, 3, ("zlib", 6)])
def test_joblib_file_refused_without_allow_pickle(compress, models, tmp_path):
    pipe, _, _, _ = models
    path = tmp_path / "m.joblib"
    real_joblib.dump(pipe, path, compress=compress)
    with pytest.raises(mle.FormatError) as info:
        shim.load(path)
    msg = str(info.value)
    assert "joblib" in msg and "pickle" in msg
    assert "mle-export" in msg or "mle_runtime.dump" in msg  # says how to convert
    with pytest.raises(mle.FormatError):
        shim.load(io.BytesIO(path.read_bytes()))


@pytest.mark.parametrize("compress", [0, 3, ("zlib", 6), ("lzma", 1)])
def test_joblib_file_loaded_with_allow_pickle(compress, models, tmp_path):
    pipe, X, _, _ = models
    path = tmp_path / "m.joblib"
    real_joblib.dump({"model": pipe, "threshold": 0.4}, path, compress=compress)
    got = shim.load(path, allow_pickle=True)
    assert type(got["model"]) is type(pipe)  # joblib.load's objects, not proxies
    np.testing.assert_array_equal(got["model"].predict(X), pipe.predict(X))
    assert got["threshold"] == 0.4
    with open(path, "rb") as f:
        got = shim.load(f, allow_pickle=True)
    np.testing.assert_array_equal(got["model"].predict(X), pipe.predict(X))
    got = shim.load(str(path), None, allow_pickle=True)
    assert got["threshold"] == 0.4


def test_pickle_file_loaded_with_allow_pickle(models, tmp_path):
    _, _, forest, Xi = models
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(forest, protocol=4))
    with pytest.raises(mle.FormatError, match="pickle"):
        shim.load(path)
    got = shim.load(path, allow_pickle=True)
    np.testing.assert_array_equal(got.predict(Xi), forest.predict(Xi))


def test_joblib_mmap_mode_passed_on(tmp_path):
    a = np.arange(100_000, dtype=np.float64)
    path = tmp_path / "a.joblib"
    real_joblib.dump(a, path)
    got = shim.load(path, mmap_mode="r", allow_pickle=True)
    assert isinstance(got, np.memmap) and got.mode == "r"  # joblib's own memory map
    np.testing.assert_array_equal(got, a)


def test_damaged_mle_file_never_handed_to_joblib(models, tmp_path, monkeypatch):
    pipe, _, _, _ = models
    calls = []
    monkeypatch.setattr(pickle_fallback, "load_trusted", lambda *a, **k: calls.append(a))
    path = tmp_path / "m.mle"
    shim.dump({"m": pipe, "a": np.arange(10.0)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    (tmp_path / "flip.mle").write_bytes(bytes(data))
    (tmp_path / "cut.mle").write_bytes(bytes(data[:200]))
    for name in ("flip.mle", "cut.mle"):
        with pytest.raises(mle.FormatError):
            shim.load(tmp_path / name, allow_pickle=True)
        with pytest.raises(mle.FormatError):
            shim.load(io.BytesIO((tmp_path / name).read_bytes()), allow_pickle=True)
    assert calls == []


def test_no_fallback_when_a_signature_or_key_is_asked_for(models, tmp_path, monkeypatch):
    pipe, _, _, _ = models
    path = tmp_path / "m.joblib"
    real_joblib.dump(pipe, path)
    _, public = mle.generate_keys()
    with pytest.raises(mle.FormatError):
        shim.load(path, allow_pickle=True, public_key=public)
    with pytest.raises(mle.MLEError):
        shim.load(path, allow_pickle=True, encryption_key=b"k" * 32)


def test_text_mode_file_refused(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("hello")
    with open(path) as f:
        with pytest.raises(TypeError, match="binary"):
            shim.load(f, allow_pickle=True)


# ---------------------------------------------------------------- forwarded names -------

@pytest.mark.parametrize("name", FORWARDED)
def test_joblib_names_forwarded(name):
    assert getattr(shim, name) is getattr(real_joblib, name)
    assert name in dir(shim)


def test_from_import_and_star_names():
    from mle_runtime.compat.joblib import Memory, Parallel, delayed  # noqa: F401

    assert Parallel is real_joblib.Parallel
    assert set(real_joblib.__all__) <= set(shim.__all__)
    assert shim.__version__ == real_joblib.__version__


def _square(x):
    return x * x


def test_parallel_and_delayed_work():
    out = shim.Parallel(n_jobs=2, backend="threading")(shim.delayed(_square)(i) for i in range(20))
    assert out == [i * i for i in range(20)]
    with shim.parallel_config(backend="threading", n_jobs=2):
        assert shim.Parallel()(shim.delayed(abs)(-i) for i in range(5)) == list(range(5))
    assert shim.effective_n_jobs(1) == 1
    assert shim.cpu_count() == real_joblib.cpu_count() >= 1


def test_memory_and_hash(tmp_path):
    calls = []

    def f(x):
        calls.append(x)
        return x + 1

    mem = shim.Memory(tmp_path / "cache", verbose=0)
    g = mem.cache(f)
    assert g(1) == 2 and g(1) == 2 and calls == [1]
    a = np.arange(10)
    assert shim.hash(a) == real_joblib.hash(a) and shim.hash(a) != shim.hash(a + 1)


def test_unknown_names():
    with pytest.raises(AttributeError, match="no_such_name"):
        shim.no_such_name
    with pytest.raises(AttributeError):
        shim._private_thing
    assert not hasattr(shim, "__wrapped__")
    assert shim.numpy_pickle is real_joblib.numpy_pickle  # other public names of joblib


# ---------------------------------------------------------------- imports ---------------

IMPORT_SCRIPT = r"""
import json, sys
import numpy as np
from mle_runtime.compat import joblib
from sklearn.linear_model import LogisticRegression
from sklearn.datasets import load_iris
before = "joblib" in sys.modules
X, y = load_iris(return_X_y=True)
model = LogisticRegression(max_iter=300).fit(X, y)
assert "joblib" not in sys.modules or before, "scikit-learn imported joblib?"
sys.modules.pop("joblib", None)
for k in [k for k in sys.modules if k.startswith("joblib.")]:
    sys.modules.pop(k)
joblib.dump({"model": model, "t": 0.5}, sys.argv[1])
out = joblib.load(sys.argv[1])
after_load = "joblib" in sys.modules
same = bool((out["model"].predict(X) == model.predict(X)).all())
p = joblib.Parallel(n_jobs=1)(joblib.delayed(abs)(-i) for i in range(3))
print(json.dumps({"before": before, "after_load": after_load, "same": same, "parallel": p,
                  "after_parallel": "joblib" in sys.modules}))
"""


def test_importing_the_shim_does_not_import_joblib(tmp_path):
    code = ("import sys; import mle_runtime.compat.joblib as j; import mle_runtime.compat; "
            "print('joblib' in sys.modules, [m for m in sys.modules if m.startswith('joblib')])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False []"


def test_dump_load_do_not_import_joblib_until_a_joblib_name_is_used(tmp_path):
    # scikit-learn imports joblib itself, so the script drops it from sys.modules after
    # fitting and checks dump/load never bring it back; Parallel does.
    proc = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT, str(tmp_path / "v.mle")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["after_load"] is False and out["same"] is True
    assert out["parallel"] == [0, 1, 2] and out["after_parallel"] is True


MISSING_SCRIPT = r"""
import json, pickle, sys
sys.modules["joblib"] = None  # as if joblib were not installed
import numpy as np
from mle_runtime.compat import joblib
joblib.dump({"a": np.arange(4)}, sys.argv[1] + "/v.mle")
ok = joblib.load(sys.argv[1] + "/v.mle")["a"].tolist() == [0, 1, 2, 3]
with open(sys.argv[1] + "/p.pkl", "wb") as f:
    pickle.dump({"plain": 1}, f)
plain = joblib.load(sys.argv[1] + "/p.pkl", allow_pickle=True)
errors = {}
for what in ("attr", "from", "compressed"):
    try:
        if what == "attr":
            joblib.Parallel
        elif what == "from":
            from mle_runtime.compat.joblib import delayed
        else:
            joblib.load(sys.argv[1] + "/z.joblib", allow_pickle=True)
        errors[what] = None
    except ImportError as e:
        errors[what] = str(e)
try:
    joblib.no_such_name
    errors["unknown"] = None
except AttributeError as e:
    errors["unknown"] = "AttributeError"
print(json.dumps({"ok": ok, "plain": plain, "errors": errors}))
"""


def test_without_joblib(tmp_path):
    real_joblib.dump({"x": 1}, tmp_path / "z.joblib", compress=3)
    proc = subprocess.run([sys.executable, "-c", MISSING_SCRIPT, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["ok"] is True and out["plain"] == {"plain": 1}
    for what in ("attr", "from", "compressed"):
        assert out["errors"][what] is not None, what
        assert "install joblib" in out["errors"][what] or \
            "pip install joblib" in out["errors"][what]
    assert "Parallel" in out["errors"]["attr"]
    assert out["errors"]["unknown"] == "AttributeError"
