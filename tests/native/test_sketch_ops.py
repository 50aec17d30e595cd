"""The kernel-approximation ops and the input rule "hashed" (docs/FORMAT.md 11.13, 9.7):
AdditiveChi2 is AdditiveChi2Sampler's map (negative entries an input error), CountSketch the
circular convolution of count sketches (checked against a plain numpy reference); plan
building refuses every malformed node or rule with a FormatError (a hostile file never
crashes)."""

import numpy as np
import pytest

from mle_runtime import FormatError, InputError, _native
from tests.native.test_simple_model_validation import build, encode, refused


def chi2(c=3, **attrs):
    a = {"sample_steps": 2, "sample_interval": 0.5}
    a.update(attrs)
    return build(c, "AdditiveChi2", {}, **a)


def sketch(c=3, degree=2, n=5, coef0=None, index=None, bits=None):
    rng = np.random.default_rng(0)
    m = c + (coef0 is not None)
    index = rng.integers(0, n, size=(degree, m)) if index is None else index
    bits = rng.choice([-1.0, 1.0], size=(degree, m)) if bits is None else bits
    return build(c, "CountSketch", {"index_hash": np.asarray(index, dtype=np.int64),
                                    "bit_hash": np.asarray(bits, dtype=np.float64)},
                 n_components=n, gamma_sqrt=1.5, coef0_sqrt=coef0), index, bits


def _set(graph, key, value):
    graph["nodes"][0][3][key] = value  # past the writer's own checks
    return graph


def test_additive_chi2_values_and_refusal():
    graph, arrays = chi2()
    model = _native.load_buffer(encode(graph, arrays))
    X = np.array([[0.0, 1.0, 4.0], [2.5, 0.0, 1e-3]])
    out = model.run(X, 0, 1)
    L = 0.5
    nz = X != 0
    f = np.sqrt(2 * X * L / np.cosh(np.pi * L), where=nz, out=np.zeros_like(X))
    lg = np.log(X, where=nz, out=np.zeros_like(X))
    expected = np.hstack([np.sqrt(X * L), np.where(nz, f * np.cos(L * lg), 0.0),
                          np.where(nz, f * np.sin(L * lg), 0.0)])
    np.testing.assert_allclose(out, expected, rtol=1e-15, atol=0)
    with pytest.raises(InputError, match="Negative values"):
        model.run(np.array([[1.0, -1e-300, 2.0]]), 0, 1)


@pytest.mark.parametrize("key, value", [
    ("sample_steps", 0), ("sample_steps", 65), ("sample_steps", 1.5), ("sample_steps", "2"),
    ("sample_steps", None), ("sample_interval", 0.0), ("sample_interval", -1.0),
    ("sample_interval", 1e-50), ("sample_interval", 1e300), ("sample_interval", True)])
def test_additive_chi2_bad_attrs(key, value):
    graph, arrays = chi2()
    with pytest.raises(FormatError):
        _native.load_buffer(encode(_set(graph, key, value), arrays))


def test_additive_chi2_too_wide():
    graph, arrays = chi2(c=2 ** 26, sample_steps=64)
    refused(graph, arrays, "2\\^31")


def _reference(X, index, bits, n, g, c0):
    Z = g * X if c0 is None else np.hstack([g * X, np.full((len(X), 1), c0)])
    out = []
    for z in Z:
        s = np.zeros((index.shape[0], n))
        for j in range(len(z)):
            for d in range(index.shape[0]):
                s[d, index[d, j]] += bits[d, j] * z[j]
        acc = s[0]
        for d in range(1, index.shape[0]):
            acc = np.array([sum(acc[i] * s[d][(k - i) % n] for i in range(n))
                            for k in range(n)])
        out.append(acc)
    return np.array(out)


@pytest.mark.parametrize("degree, n, coef0", [(1, 4, None), (2, 5, None), (3, 7, 0.5),
                                              (4, 1, 2.0)])
def test_count_sketch_values(degree, n, coef0):
    (graph, arrays), index, bits = sketch(degree=degree, n=n, coef0=coef0)
    model = _native.load_buffer(encode(graph, arrays))
    X = np.random.default_rng(1).normal(size=(6, 3))
    expected = _reference(X, index, bits, n, 1.5, coef0)
    np.testing.assert_allclose(model.run(X, 0, 1), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(model.run(X.astype(np.float32), 0, 1),
                               _reference(X.astype(np.float32).astype(np.float64), index,
                                          bits, n, 1.5, coef0), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("case, fragment", [
    (dict(index=[[0, 1, 5]], bits=[[1, 1, 1]]), "index_hash"),
    (dict(index=[[0, 1, -1]], bits=[[1, 1, 1]]), "index_hash"),
    (dict(index=[[0, 1, 2]], bits=[[1, 0, 1]]), "bit_hash"),
    (dict(index=[[0, 1, 2]], bits=[[1, 1, np.nan]]), "bit_hash"),
    (dict(index=[[0, 1]], bits=[[1, 1]]), "index_hash"),
    (dict(index=[[0, 1, 2]], bits=[[1, 1, 1], [1, 1, 1]]), "bit_hash"),
    (dict(index=np.zeros((65, 3)), bits=np.ones((65, 3))), "degree"),
    (dict(index=np.zeros((0, 3)), bits=np.ones((0, 3))), "degree"),
    (dict(coef0=1.0, index=[[0, 1, 2]], bits=[[1, 1, 1]]), "index_hash"),
])
def test_count_sketch_bad_tensors(case, fragment):
    (graph, arrays), _, _ = sketch(**case)
    refused(graph, arrays, fragment)


@pytest.mark.parametrize("key, value", [
    ("n_components", 0), ("n_components", 16385), ("n_components", 2.5),
    ("n_components", "5"), ("gamma_sqrt", None), ("gamma_sqrt", "1"), ("coef0_sqrt", True)])
def test_count_sketch_bad_attrs(key, value):
    (graph, arrays), _, _ = sketch()
    with pytest.raises(FormatError):
        _native.load_buffer(encode(_set(graph, key, value), arrays))


def test_count_sketch_infinite_attrs():
    (graph, arrays), _, _ = sketch()
    graph = _set(graph, "gamma_sqrt", 12345.5)
    with pytest.raises(FormatError):  # out of range for the JSON reader, or not finite
        _native.load_buffer(encode(graph, arrays, (b"12345.5", b"1e999")))


def _with_hashed(rule, n_features=4):
    graph, arrays = build(n_features, "Constant", {"values": np.ones(1)})
    graph["inputs"] = {"hashed": rule}
    return graph, arrays


@pytest.mark.parametrize("rule", [["dict", True], ["dicts", True, "float64"],
                                  ["dict", 1, "float64"], ["dict", True, "int64"],
                                  ["string", False, "float64", 1], "dict", None, 3,
                                  [None, True, "float64"]])
def test_hashed_rule(rule):
    refused(*_with_hashed(rule), "hashed")


def test_valid_hashed_rules_load():
    for t in ("dict", "pair", "string"):
        for dt in ("float64", "float32"):
            _native.load_buffer(encode(*_with_hashed([t, True, dt])))
