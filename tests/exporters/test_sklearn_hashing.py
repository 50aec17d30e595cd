"""Parity of FeatureHasher (transform, alone and as a Pipeline's first step) with its .mle
proxy: the dense rows equal scikit-learn's sparse rows exactly (float64 and float32), for
dicts, (name, value) pairs and strings, string values ("f=v" features), bytes names,
numpy numbers, NaN and infinity, colliding features, single samples and generators; bad
samples refused as scikit-learn refuses them. PatchExtractor is refused at dump."""

import numpy as np
import pytest
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.image import PatchExtractor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

import mle_runtime as mle
from mle_runtime import InputError, UnsupportedModelError

WORDS = ["red", "green", "blue", "cat", "dog", "fish", "the", "a", "big", "small", "ünï",
         "日本", ""]


def roundtrip(est, tmp_path):
    path = tmp_path / "m.mle"
    mle.dump(est, path)
    return mle.load(path)


def dicts(n, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        d = {}
        for k in rng.choice(WORDS, size=rng.integers(0, 8), replace=False):
            kind = rng.integers(0, 4)
            d[str(k)] = (str(rng.choice(WORDS)) if kind == 0 else
                         float(rng.normal()) if kind == 1 else int(rng.integers(-3, 4)))
        out.append(d)
    return out


def same(got, est, X):
    """Equal to scikit-learn's rows, bit for bit (scipy's sums of a column's values in the
    order its sort leaves them included)."""
    expected = est.transform(X).toarray()
    got = np.asarray(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("n_features", [1, 2, 7, 16, 1024, 2 ** 20])
@pytest.mark.parametrize("alternate_sign", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dicts(n_features, alternate_sign, dtype, tmp_path):
    X = dicts(60 if n_features < 2 ** 20 else 3)
    est = FeatureHasher(n_features=n_features, alternate_sign=alternate_sign, dtype=dtype)
    m = roundtrip(est.fit(X), tmp_path)
    same(m.transform(X), est, X)
    same(m.transform(X[:1]), est, X[:1])
    same(m.transform(iter(X[:5])), est, X[:5])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pairs_and_strings(dtype, tmp_path):
    rng = np.random.default_rng(3)
    pairs = [[(str(rng.choice(WORDS)), float(rng.normal())) for _ in range(rng.integers(0, 30))]
             for _ in range(40)]
    pairs[0] += [("x", "v"), (b"bytes", 2.0), ("x", np.float32(0.1)), ("y", np.int64(7)),
                 ("z", True), ("w", 0.0), ("w", -0.0)]
    est = FeatureHasher(n_features=8, input_type="pair", dtype=dtype)
    m = roundtrip(est, tmp_path)
    same(m.transform(pairs), est, pairs)
    same(m.transform(pairs[:1]), est, pairs[:1])
    short = [p[:16] for p in pairs]
    same(m.transform(short), est, short)
    strings = [list(rng.choice(WORDS, size=rng.integers(0, 20))) for _ in range(40)]
    strings[1] += [b"raw", "日本"]
    for alt in (True, False):
        est = FeatureHasher(n_features=5, input_type="string", alternate_sign=alt, dtype=dtype)
        m = roundtrip(est, tmp_path)
        same(m.transform(strings), est, strings)
        same(m.transform([strings[1]]), est, [strings[1]])
        same(m.transform((tuple(s) for s in strings)), est, strings)


def test_many_collisions_sum_in_order(tmp_path):
    """Few columns, many values per sample: each value rounded to the dtype, a column's values
    summed in the order scipy's sort leaves them (the order they came when no sample's
    columns decrease: a batch of sorted samples and the same samples with an unsorted one)."""
    rng = np.random.default_rng(7)
    X = [{f"f{j}": float(v) for j, v in enumerate(rng.normal(size=10))} for _ in range(200)]
    for dtype in (np.float64, np.float32):
        est = FeatureHasher(n_features=3, dtype=dtype)
        m = roundtrip(est, tmp_path)
        same(m.transform(X), est, X)
    X = [dict(list(d.items())[:3]) for d in X] + [{f"k{j}": 0.1 * j for j in range(40)}]
    for dtype in (np.float64, np.float32):
        est = FeatureHasher(n_features=2, dtype=dtype)
        m = roundtrip(est, tmp_path)
        same(m.transform(X), est, X)
    rng = np.random.default_rng(11)
    for n_features in (1, 2, 3, 64):
        for dtype in (np.float64, np.float32):
            est = FeatureHasher(n_features=n_features, input_type="pair", dtype=dtype)
            m = roundtrip(est, tmp_path)
            pairs = [[(f"k{j}", float(v)) for j, v in
                      enumerate(rng.normal(size=rng.integers(1, 300)) * 10.0 ** rng.integers(
                          -3, 4))] for _ in range(30)]
            same(m.transform(pairs), est, pairs)
            cols = [sorted(p, key=lambda fv: m_col(fv[0], n_features)) for p in pairs]
            same(m.transform(cols), est, cols)
            same(m.transform(cols + pairs[:1]), est, cols + pairs[:1])


def m_col(name, n_features):
    from mle_runtime.runtime.text import murmurhash3_32

    h = murmurhash3_32(name)
    return abs(h) % n_features


def test_nan_inf_and_string_keys(tmp_path):
    X = [{"a": np.nan, "b": 1.0}, {"a": np.inf, "c": -np.inf}, {"a": np.inf, "b": "a"},
         {3: "x"}, {"k": "="}, {"": ""}]
    est = FeatureHasher(n_features=4)
    m = roundtrip(est, tmp_path)
    same(m.transform(X), est, X)


def test_pipeline(tmp_path):
    X = dicts(120, seed=5)
    y = np.array([len(d) % 3 for d in X])
    for last in (LogisticRegression(max_iter=1000), Ridge()):
        pipe = make_pipeline(FeatureHasher(n_features=32), last).fit(X, y)
        m = roundtrip(pipe, tmp_path)
        for method in ("predict", "predict_proba", "decision_function"):
            if hasattr(pipe, method):
                exp = getattr(pipe, method)(X)
                got = getattr(m, method)(X)
                if exp.dtype.kind == "f":
                    np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-12)
                else:
                    np.testing.assert_array_equal(got, exp)


def test_refused_at_dump(tmp_path):
    with pytest.raises(UnsupportedModelError, match="FeatureHasher"):
        mle.dump(make_pipeline(FeatureHasher(n_features=8, dtype=np.float32), Ridge())
                 .fit([{"a": 1}, {"b": 2}], [0.0, 1.0]), tmp_path / "r.mle")
    with pytest.raises(UnsupportedModelError, match="dtype"):
        mle.dump(FeatureHasher(n_features=8, dtype=np.int64), tmp_path / "r.mle")


def test_bad_input(tmp_path):
    m = roundtrip(FeatureHasher(n_features=8), tmp_path)
    with pytest.raises(InputError, match="empty"):
        m.transform([])
    with pytest.raises(InputError, match="dicts"):
        m.transform([{"a": 1}, 5])
    with pytest.raises(TypeError, match="feature names must be strings"):
        m.transform([{3: 1.0}])
    with pytest.raises(TypeError):
        m.transform([{"a": None}])
    with pytest.raises(TypeError):
        m.transform([{"a": b"1"}])
    with pytest.raises(AttributeError):
        m.n_features_in_  # noqa: B018  (scikit-learn's FeatureHasher has none)
    s = roundtrip(FeatureHasher(n_features=8, input_type="string"), tmp_path)
    with pytest.raises(InputError, match="single string"):
        s.transform(["abc", "def"])
    same(s.transform([["a"], "bc"]), FeatureHasher(n_features=8, input_type="string"),
         [["a"], "bc"])  # a later string sample: its characters, as scikit-learn takes it
    with pytest.raises(TypeError, match="feature names must be strings"):
        s.transform([["a", 1]])
    p = roundtrip(FeatureHasher(n_features=8, input_type="pair"), tmp_path)
    with pytest.raises(InputError, match="pairs"):
        p.transform([3])
    est = FeatureHasher(n_features=8)
    for bad in ([{3: 1.0}], [{"a": None}]):
        with pytest.raises(TypeError):
            est.transform(bad)


def test_patch_extractor_refused(tmp_path):
    imgs = np.random.default_rng(0).normal(size=(3, 6, 6))
    for est in (PatchExtractor(patch_size=(2, 2)),
                PatchExtractor(patch_size=(2, 2), max_patches=3, random_state=0)):
        with pytest.raises(UnsupportedModelError, match="PatchExtractor"):
            mle.dump(est.fit(imgs), tmp_path / "r.mle")
