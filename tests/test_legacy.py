"""The older MLE API's names (mle_runtime.legacy): thin layers over dump/load, checked for
their return shapes and for giving the same predictions as the core API."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime import CompressionUtils, MLEFormat, SecurityUtils


@pytest.fixture(scope="module")
def clf():
    X, y = load_iris(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y), X


@pytest.mark.parametrize("compression", [None, False, True, 3, "zlib", ("zstd", 9)])
def test_export_model(compression, clf, tmp_path):
    model, X = clf
    path = tmp_path / "m.mle"
    res = mle.export_model(model, path, input_shape=(None, 4), compression=compression,
                           metadata={"a": 1})
    assert res["success"] is True, res
    assert res["file_size_bytes"] == path.stat().st_size
    assert res["export_time_ms"] > 0
    if compression in (None, False):
        assert res["compression_ratio"] == 1.0
    else:  # uncompressed / stored size (below 1 for a model this tiny: envelope overhead)
        info = mle.inspect_model(path)
        assert res["compression_ratio"] == info["uncompressed_size"] / info["file_size"]
    np.testing.assert_array_equal(mle.load(path).predict(X), model.predict(X))


def test_export_model_failures_are_reported(clf, tmp_path):
    """raise_on_error=False: the older API's dict result for failures."""
    model, _ = clf
    res = mle.export_model(object(), tmp_path / "x.mle", raise_on_error=False)
    assert res["success"] is False and res["error_type"] == "UnsupportedModelError"
    res = mle.export_model(model, tmp_path / "x.mle", input_shape=(1, 5), raise_on_error=False)
    assert res["success"] is False and "5" in res["error"]
    assert not (tmp_path / "x.mle").exists()
    res = mle.export_model(model, tmp_path / "x.mle", quantization="int3",
                           raise_on_error=False)
    assert res["success"] is False


def test_export_model_failures_raise_by_default(clf, tmp_path):
    """As dump does: a programming error is not a dict to forget to check."""
    model, _ = clf
    with pytest.raises(mle.UnsupportedModelError):
        mle.export_model(object(), tmp_path / "x.mle")
    with pytest.raises(ValueError, match="5"):
        mle.export_model(model, tmp_path / "x.mle", input_shape=(1, 5))
    assert not (tmp_path / "x.mle").exists()
    with pytest.raises(ValueError, match="quantize"):
        mle.export_model(model, tmp_path / "x.mle", quantization="int3")
    with pytest.raises(FileNotFoundError):
        mle.export_model(model, tmp_path / "missing" / "x.mle")
    with pytest.raises(TypeError, match="raise_on_error"):
        mle.export_model(model, tmp_path / "x.mle", raise_on_error="no")


def test_run_names_its_outputs(clf, tmp_path):
    model, X = clf
    mle.dump(model, tmp_path / "m.mle")
    rt = mle.load_model(tmp_path / "m.mle")
    names = rt.get_outputs()
    assert set(names) == {"decision_function", "predict", "predict_proba",
                          "predict_log_proba"}
    outs = rt.run([X])
    assert len(outs) == len(names)
    for name, out in zip(names, outs):  # each output is the method of that name
        np.testing.assert_allclose(out, getattr(model, name)(X), atol=1e-9)
    named = dict(zip(rt.get_outputs(), rt.run([X[:3]])))
    np.testing.assert_allclose(named["predict_proba"], model.predict_proba(X[:3]), atol=1e-9)
    assert "get_outputs" in mle.MLERuntime.run.__doc__


def test_generate_keypair_order_is_the_reverse_of_generate_keys(tmp_path, clf):
    model, _ = clf
    pub, priv = SecurityUtils.generate_keypair()  # public first (the older API's order)
    assert pub.startswith(b"-----BEGIN PUBLIC KEY") and b"PRIVATE KEY" in priv
    private, public = mle.generate_keys()  # private first
    assert hasattr(private, "sign") and not hasattr(public, "sign")
    assert "public key first" in SecurityUtils.generate_keypair.__doc__
    mle.dump(model, tmp_path / "m.mle")
    with pytest.raises(ValueError, match="private key"):
        SecurityUtils.sign_model(tmp_path / "m.mle", pub)  # the swapped order is refused


MISSING_SCRIPT = r"""
import io, json, sys
sys.modules[sys.argv[1]] = None  # as if the package were not installed
import numpy as np
import mle_runtime as mle
from mle_runtime import MissingDependencyError
from mle_runtime.legacy import SecurityUtils
X = np.random.default_rng(0).normal(size=(20, 3))
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = "ok"
    except MissingDependencyError as e:
        out[name] = "missing: " + str(e)
    except Exception as e:
        out[name] = type(e).__name__ + ": " + str(e)
model = mle.load(sys.argv[2])
attempt("dump", lambda: mle.dump(model, io.BytesIO(), compress=3))
attempt("sign", lambda: mle.dump(model, io.BytesIO(), sign_with=b"x" * 32))
attempt("export_model", lambda: mle.export_model(model, sys.argv[4], compression=3))
res = mle.export_model(model, sys.argv[4], compression=3, raise_on_error=False)
out["export_model dict"] = res.get("error_type")
attempt("load", lambda: mle.load(sys.argv[3]))
attempt("load_model", lambda: mle.load_model(sys.argv[3]))
attempt("keypair", SecurityUtils.generate_keypair)
print(json.dumps(out))
"""


@pytest.mark.parametrize("package, extra, needs", [
    ("zstandard", "mle_runtime[compression]", ("dump", "export_model", "load", "load_model")),
    ("cryptography", "mle_runtime[security]", ("sign", "keypair"))])
def test_a_missing_optional_package_names_the_extra(package, extra, needs, clf, tmp_path):
    """Hidden from the import system in a fresh process: every entry point that needs it
    raises MissingDependencyError naming the extra to install, never a "corrupt file"."""
    import json
    import subprocess
    import sys

    model, _ = clf
    mle.dump(model, tmp_path / "m.mle")
    mle.dump(model, tmp_path / "z.mle", compress=3)  # zstd (the default method)
    proc = subprocess.run([sys.executable, "-c", MISSING_SCRIPT, package, str(tmp_path / "m.mle"),
                           str(tmp_path / "z.mle"), str(tmp_path / "e.mle")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for name in needs:
        assert out[name].startswith("missing: "), (name, out[name])
        assert extra in out[name] and "corrupt" not in out[name], out[name]
    for name in set(("dump", "export_model", "load", "load_model", "sign", "keypair")) - \
            set(needs):
        assert not out[name].startswith("missing"), (name, out[name])
    if package == "zstandard":
        assert out["export_model dict"] == "MissingDependencyError"


def test_framework_specific_exporters(clf, tmp_path):
    from xgboost import XGBClassifier

    model, X = clf
    assert mle.export_sklearn_model(model, tmp_path / "a.mle")["success"]
    for fn in (mle.export_xgboost_model, mle.export_lightgbm_model, mle.export_catboost_model):
        with pytest.raises(mle.UnsupportedModelError, match="not a"):
            fn(model, tmp_path / "b.mle")
    y = model.predict(X)
    xgb = XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    res = mle.export_xgboost_model(xgb, tmp_path / "x.mle", compression=True)
    assert res["success"] and res["model_class"] == "xgboost.XGBClassifier"
    np.testing.assert_array_equal(mle.load_model(tmp_path / "x.mle").model.predict(X),
                                  xgb.predict(X))
    with pytest.raises(mle.UnsupportedModelError, match="not a"):
        mle.export_sklearn_model(xgb, tmp_path / "c.mle")


def test_load_model_run_info_benchmark(clf, tmp_path):
    model, X = clf
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    rt = mle.load_model(path, device="cpu")
    assert isinstance(rt, mle.MLERuntime)
    outs = rt.run([X])
    assert len(outs) == len(rt.output_names)
    by_name = dict(zip(rt.output_names, outs))
    np.testing.assert_array_equal(by_name["predict"], model.predict(X))
    np.testing.assert_allclose(by_name["predict_proba"], model.predict_proba(X), atol=1e-9)
    (proba,) = rt.run(X, output_names=["predict_proba"])
    assert proba.shape == (150, 3)
    with pytest.raises(ValueError):
        rt.run([X, X])
    info = rt.get_model_info()
    assert info["n_features"] == 4 and info["device"] == "cpu"
    b = rt.benchmark([X[:10]], num_runs=5)
    assert set(b) >= {"mean_time_ms", "std_time_ms", "min_time_ms", "max_time_ms"}
    eps = 1e-9 * b["max_time_ms"]  # fmean of equal samples may differ from them by an ulp
    assert b["min_time_ms"] - eps <= b["mean_time_ms"] <= b["max_time_ms"] + eps
    assert b["num_runs"] == 5
    b = mle.benchmark_model(path, [X[:1]], num_runs=3)
    assert b["num_runs"] == 3
    with pytest.raises(ValueError, match="device"):
        mle.load_model(path, device="cuda:7")


def test_load_model_signature(clf, tmp_path):
    model, X = clf
    path = tmp_path / "m.mle"
    pub, priv = SecurityUtils.generate_keypair()
    assert pub.startswith(b"-----BEGIN PUBLIC KEY") and b"PRIVATE KEY" in priv
    mle.dump(model, path)
    with pytest.raises(mle.SignatureError):
        mle.load_model(path, verify_signature=True, public_key=pub)
    assert SecurityUtils.verify_model(path, pub) is False
    SecurityUtils.sign_model(path, priv)
    assert SecurityUtils.verify_model(path, pub) is True
    rt = mle.load_model(path, verify_signature=True, public_key=pub)
    np.testing.assert_array_equal(rt.run([X], output_names=["predict"])[0], model.predict(X))
    with pytest.raises(ValueError):
        mle.load_model(path, verify_signature=True)


def test_version_and_operators():
    v = mle.get_version_info()
    assert v["version"] == mle.__version__ and v["format_version"] == "1.1"
    assert "openmp" in v["build"]
    ops = mle.get_supported_operators()
    assert "TreeEnsemble" in ops and "Linear" in ops and ops == sorted(ops)


def test_security_utils_hashes():
    from mle_runtime import _native

    assert SecurityUtils.compute_checksum(b"123456789") == 0xE3069283
    assert SecurityUtils.compute_checksum(b"abc") == _native.crc32c(b"abc")
    assert SecurityUtils.compute_hash(b"abc") == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_compression_utils():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(20, 7))
    q, scale, zp = CompressionUtils.quantize_weights_int8(w)
    assert q.dtype == np.int8 and q.shape == w.shape
    back = CompressionUtils.dequantize_weights_int8(q, scale, zp)
    assert np.max(np.abs(back - w)) <= scale * 0.5 + 1e-6
    h = CompressionUtils.quantize_weights_fp16(w)
    assert h.dtype == np.float16 and np.allclose(h, w, atol=2e-3)
    data = bytes(1000) + b"abc" * 100
    for kind in MLEFormat.COMPRESSION_TYPES:
        packed = CompressionUtils.compress_data(data, kind)
        assert CompressionUtils.decompress_data(packed, kind, len(data)) == data
        if kind != "none":
            assert len(packed) < len(data)
    with pytest.raises(ValueError):
        CompressionUtils.quantize_weights_int8([np.nan])


def test_format_constants():
    assert MLEFormat.MAGIC == b"\x89MLE\r\n\x1a\n"
    assert MLEFormat.VERSION_MAJOR == 1 and MLEFormat.HEADER_SIZE == 64
    assert MLEFormat.SECTION_SIGNATURE == 6 and MLEFormat.FILE_EXTENSION == ".mle"
