"""Quantisation at dump (``quantize="fp16"|"int8"``): lossy within the stated bounds, recorded
in the metadata with the error measured on calibration rows, tree node records (thresholds)
untouched, and hostile quantisation entries refused."""

import io
import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime import FormatError, UnsupportedModelError
from mle_runtime.format import container
from mle_runtime.format import layout as L
from mle_runtime.format.writer import encode_json, pack_sections


@pytest.fixture(scope="module")
def wine_clf():
    X, y = load_wine(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(X, y), X


@pytest.fixture(scope="module")
def gbr():
    X, y = load_diabetes(return_X_y=True)
    return GradientBoostingRegressor(n_estimators=50, random_state=0).fit(X, y), X


def _tensor(path, op, attr):
    """The stored tensor ``attr`` of the first ``op`` node of the dequantised inner file."""
    from mle_runtime.format import envelope

    c = container.parse(path.read_bytes())
    if c.find(L.SECTION_ENVELOPE) is not None:
        c = container.parse(bytes(envelope.open_inner(c)))
    g = c.json(L.SECTION_GRAPH)
    node = next(n for n in g["nodes"] if n[0] == op)
    off, dt, shape = g["tensors"][node[3][attr]]
    data = bytes(c.payload(c.find(L.SECTION_DATA)))
    dtype = L.TENSOR_DTYPES[dt]
    n = int(np.prod(shape)) if shape else 1
    return np.frombuffer(data, dtype=dtype, count=n, offset=off).reshape(shape)


@pytest.mark.parametrize("mode, tol", [("fp16", 2e-3), ("int8", 5e-2)])
def test_linear_weights(mode, tol, wine_clf, tmp_path):
    model, X = wine_clf
    exact, q = tmp_path / "exact.mle", tmp_path / "q.mle"
    mle.dump(model, exact)
    mle.dump(model, q, quantize=mode, calibration=X[:60])
    w_exact = _tensor(exact, "Linear", "weight")
    w_q = _tensor(q, "Linear", "weight")
    assert not np.array_equal(w_exact, w_q)  # lossy
    bound = 2.0 ** -11 * np.abs(w_exact).max() if mode == "fp16" else \
        (w_exact.max() - min(w_exact.min(), 0)) / 255 / 2 + 1e-12
    assert np.max(np.abs(w_exact - w_q)) <= bound * 1.0001
    proxy = mle.load(q)
    np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), atol=tol)
    info = mle.inspect_model(q)
    qi = info["quantization"]
    assert qi["mode"] == mode and qi["tensors"] == 1
    assert qi["quantized_bytes"] * (4 if mode == "fp16" else 8) == qi["weight_bytes"]
    cal = qi["calibration"]
    assert cal["rows"] == 60
    measured = np.max(np.abs(proxy.predict_proba(X[:60]) - model.predict_proba(X[:60])))
    assert cal["outputs"]["predict_proba"]["max_abs_error"] == pytest.approx(measured, abs=1e-12)
    assert 0.9 <= cal["outputs"]["predict"]["agreement"] <= 1.0
    # the content hash names the dequantised model, as loaded
    assert proxy.get_model_info()["content_hash"] == info["content_hash"]
    assert info["content_hash"] != mle.inspect_model(exact)["content_hash"]


@pytest.mark.parametrize("mode", ["fp16", "int8"])
def test_tree_thresholds_never_change(mode, gbr, tmp_path):
    model, X = gbr
    exact, q = tmp_path / "exact.mle", tmp_path / "q.mle"
    mle.dump(model, exact)
    mle.dump(model, q, quantize=mode, compress=3)
    assert np.array_equal(_tensor(exact, "TreeEnsemble", "nodes"),
                          _tensor(q, "TreeEnsemble", "nodes"))
    leaves_exact = _tensor(exact, "TreeEnsemble", "leaves")
    leaves_q = _tensor(q, "TreeEnsemble", "leaves")
    assert not np.array_equal(leaves_exact, leaves_q)
    pred = mle.load(q).predict(X)
    # every row reaches the same leaves: the error is bounded by the leaf rounding times the
    # number of trees
    per_leaf = np.max(np.abs(leaves_exact - leaves_q))
    assert np.max(np.abs(pred - model.predict(X))) <= per_leaf * 50 * 1.0001 + 1e-9


def test_hist_gradient_boosting(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y)
    mle.dump(model, tmp_path / "q.mle", quantize="fp16", calibration=X)
    got = mle.load(tmp_path / "q.mle").predict(X)
    assert np.max(np.abs(got - model.predict(X))) < 0.5  # targets are ~25..346
    err = mle.inspect_model(tmp_path / "q.mle")["quantization"]["calibration"]
    assert err["outputs"]["predict"]["max_abs_error"] == pytest.approx(
        np.max(np.abs(got - model.predict(X))), abs=1e-9)


def test_encrypted_and_signed_quantized(wine_clf, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    model, X = wine_clf
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "q.mle"
    mle.dump(model, path, quantize="int8", encryption_key=bytes(32), sign_with=key)
    proxy = mle.load(path, encryption_key=bytes(32), public_key=key.public_key())
    np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), atol=5e-2)


def test_nothing_to_quantize(tmp_path):
    X, _ = load_diabetes(return_X_y=True)
    with pytest.raises(UnsupportedModelError, match="no float weights"):
        mle.dump(StandardScaler().fit(X), tmp_path / "s.mle", quantize="int8")
    with pytest.raises(ValueError, match="quantize"):
        mle.dump(StandardScaler().fit(X), tmp_path / "s.mle", quantize="int4")
    with pytest.raises(ValueError, match="calibration"):
        mle.dump(StandardScaler().fit(X), tmp_path / "s.mle", calibration=X)
    assert not (tmp_path / "s.mle").exists()


def _requantize(path, change):
    c = container.parse(path.read_bytes())
    env = c.json(L.SECTION_ENVELOPE)
    change(env)
    return pack_sections([(L.SECTION_META, bytes(c.payload(c.find(L.SECTION_META)))),
                          (L.SECTION_ENVELOPE, encode_json(env)),
                          (L.SECTION_PAYLOAD, bytes(c.payload(c.find(L.SECTION_PAYLOAD))))],
                         minor=1)


@pytest.mark.parametrize("change", [
    lambda e: e["quantization"][0].update(index=99),
    lambda e: e["quantization"][0].update(index=-1),
    lambda e: e["quantization"][0].update(index=True),
    lambda e: e["quantization"][0].update(scheme="int4"),
    lambda e: e["quantization"][0].update(shape=[10 ** 6, 10 ** 6]),
    lambda e: e["quantization"][0].update(shape=[3, -1]),
    lambda e: e["quantization"][0].update(scale=None),
    lambda e: e["quantization"][0].update(zero_point=300),
    lambda e: e["quantization"][0].pop("shape"),
    lambda e: e["quantization"].append(dict(e["quantization"][0])),  # same tensor twice
    lambda e: e.update(quantization={"a": 1}),
    lambda e: e.update(quantization=[0]),
])
def test_hostile_quantization_entries(change, tmp_path):
    X, y = load_diabetes(return_X_y=True)
    path = tmp_path / "q.mle"
    mle.dump(Ridge().fit(X, y), path, quantize="int8")
    with pytest.raises(FormatError):
        mle.load(io.BytesIO(_requantize(path, change)))


def test_shape_mismatch_with_codes_is_refused(tmp_path):
    X, y = load_diabetes(return_X_y=True)
    path = tmp_path / "q.mle"
    mle.dump(Ridge().fit(X, y), path, quantize="fp16")
    env = container.parse(path.read_bytes()).json(L.SECTION_ENVELOPE)
    assert json.dumps(env["quantization"][0]["shape"]) == "[1, 10]"

    def wrong(e):
        e["quantization"][0]["shape"] = [1, 9]

    with pytest.raises(FormatError):
        mle.load(io.BytesIO(_requantize(path, wrong)))
