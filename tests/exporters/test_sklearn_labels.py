"""LabelEncoder, LabelBinarizer, MultiLabelBinarizer, DictVectorizer and
MissingIndicator(error_on_new=True) against scikit-learn's own results."""

import warnings

import numpy as np
import pandas as pd
import pytest

import mle_runtime as mle


def _label_sets(dataset):
    _, y = dataset("iris")
    names = np.array(["setosa", "versicolor", "virginica"])
    rng = np.random.default_rng(0)
    return {
        "str": names[y],
        "object": names[y].astype(object),
        "int": (y * 7 - 3).astype(np.int64),
        "float": y * 0.5 - 1.25,
        "bool": rng.random(50) > 0.5,
    }


def _same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ["str", "object", "int", "float", "bool"])
def test_label_encoder(dataset, roundtrip, kind):
    from sklearn.preprocessing import LabelEncoder

    y = _label_sets(dataset)[kind]
    est = LabelEncoder().fit(y)
    proxy = roundtrip(est)
    for yy in (y, y[:1], list(y), pd.Series(y), y.reshape(-1, 1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # column_or_1d's DataConversionWarning
            want = est.transform(yy)
        _same(proxy.transform(yy), want)
    t = est.transform(y)
    for tt in (t, t[:1], list(t)):  # scikit-learn refuses float indices (np.take)
        _same(proxy.inverse_transform(tt), est.inverse_transform(tt))
    _same(proxy.classes_, est.classes_)
    _same(proxy.transform([]), est.transform([]))
    _same(proxy.inverse_transform([]), est.inverse_transform([]))


def test_label_encoder_refuses_unseen_labels_as_scikit_learn(roundtrip):
    from sklearn.preprocessing import LabelEncoder

    for fit, bad in ((["b", "a", "c"], ["a", "zz"]), ([3, 1, 2], [1, 7, 5]),
                     ([0.5, 1.5], [0.5, 2.5])):
        est = LabelEncoder().fit(fit)
        proxy = roundtrip(est)
        with pytest.raises(ValueError) as want:
            est.transform(bad)
        with pytest.raises(ValueError) as got:
            proxy.transform(bad)
        assert str(got.value) == str(want.value)
        for inv in ([0, 5, 7], [0.5], [-1]):
            with pytest.raises(ValueError) as want:
                est.inverse_transform(inv)
            with pytest.raises(ValueError) as got:
                proxy.inverse_transform(inv)
            assert str(got.value) == str(want.value)
    with pytest.raises(ValueError, match="unseen labels"):
        proxy.inverse_transform([np.nan])
    with pytest.raises(TypeError):  # numpy's take refuses float indices, as in scikit-learn
        proxy.inverse_transform(np.array([0.0, 1.0]))


@pytest.mark.parametrize("labels", [(0, 1), (-2, 5), (-1, 0)])
@pytest.mark.parametrize("kind", ["str", "int", "binary", "multilabel"])
def test_label_binarizer(dataset, roundtrip, kind, labels):
    from sklearn.preprocessing import LabelBinarizer

    sets = _label_sets(dataset)
    rng = np.random.default_rng(1)
    if kind == "multilabel":
        y = (rng.random((60, 4)) > 0.5).astype(np.int64)
        tests = [y, y[:1]]
    elif kind == "binary":
        y = sets["str"][sets["str"] != "virginica"]
        tests = [y, y[:1], list(y[:10]), pd.Series(y)]
    else:
        y = sets[kind]
        unseen = np.concatenate([y[:5], np.array(["other"] if kind == "str" else [99])])
        tests = [y, y[:1], list(y), pd.Series(y), unseen]
    for sparse in (False, True):
        est = LabelBinarizer(neg_label=labels[0], pos_label=labels[1],
                             sparse_output=sparse and labels[0] == 0).fit(y)
        proxy = roundtrip(est)
        for yy in tests:
            want = est.transform(yy)
            _same(proxy.transform(yy), want.toarray() if hasattr(want, "toarray") else want)
        t = est.transform(y)
        t = t.toarray() if hasattr(t, "toarray") else t
        scores = rng.normal(size=t.shape) * 3
        for tt in (t, t[:1], scores, scores.astype(np.float32)):
            _same(proxy.inverse_transform(tt), est.inverse_transform(tt))


def test_label_binarizer_checks_the_type_of_target(roundtrip):
    from sklearn.preprocessing import LabelBinarizer

    binary = LabelBinarizer(neg_label=-1).fit(["x", "y", "x"])
    multi = LabelBinarizer().fit([1, 2, 3])
    pb, pm = roundtrip(binary), roundtrip(multi)
    # a binary fit given more than two labels: label_binarize's multiclass case, 2 columns
    for y in (["x", "y", "zz"], ["x", "zz"], ["x"], np.array(["q", "r", "s"])):
        _same(pb.transform(y), binary.transform(y))
    for est, proxy, y in ((binary, pb, np.array([[1, 0], [0, 1]])),
                          (multi, pm, [0.5, 1.0]), (multi, pm, [1.0, np.nan]),
                          (multi, pm, np.array([1.0, np.nan])),
                          (multi, pm, np.array([[1, 2], [0, 3]]))):
        with pytest.raises(ValueError) as want:
            est.transform(y)
        with pytest.raises(ValueError) as got:
            proxy.transform(y)
        assert str(got.value) == str(want.value)


def test_multilabel_binarizer(roundtrip):
    from sklearn.preprocessing import MultiLabelBinarizer

    rng = np.random.default_rng(2)
    sets = [set(rng.choice(["x", "y", "z", "w"], size=rng.integers(0, 4), replace=False))
            for _ in range(40)]
    for est in (MultiLabelBinarizer().fit(sets[:30]),
                MultiLabelBinarizer(classes=["z", "x", "y", "w"]).fit(sets[:30]),
                MultiLabelBinarizer(sparse_output=True).fit([[1, 3], [2], [3, 5]])):
        proxy = roundtrip(est)
        tests = ([sets, sets[:1], [tuple(s) for s in sets]] if est.classes_[0] != 1
                 else [[[1], [5, 3], []]])
        for ss in tests:
            want = est.transform(ss)
            _same(proxy.transform(ss), want.toarray() if hasattr(want, "toarray") else want)
        Y = est.transform(tests[0])
        Y = Y.toarray() if hasattr(Y, "toarray") else Y
        for YY in (Y, Y[:1], Y.astype(np.float64)):
            assert proxy.inverse_transform(YY) == est.inverse_transform(YY)
        for bad in (Y[:, :-1], np.where(Y == 1, 2, Y), np.full_like(Y, np.nan, dtype=float)):
            with pytest.raises(ValueError) as want:
                est.inverse_transform(bad)
            with pytest.raises(ValueError) as got:
                proxy.inverse_transform(bad)
            assert str(got.value) == str(want.value)
    est = MultiLabelBinarizer().fit(sets)
    proxy = roundtrip(est)
    with pytest.warns(UserWarning, match=r"unknown class\(es\) \['q', 'r'\] will be ignored"):
        got = proxy.transform([{"x", "q"}, {"r"}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same(got, est.transform([{"x", "q"}, {"r"}]))


def _dicts(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        d = {k: float(rng.normal()) for k in rng.choice(["a", "b", "c"], 2, replace=False)}
        d["colour"] = str(rng.choice(["red", "green", "blue"]))
        if rng.random() > 0.5:
            d["tags"] = list(rng.choice(["p", "q", "r"], 2, replace=False))
        if rng.random() > 0.8:
            d["n"] = int(rng.integers(0, 5))
        out.append(d)
    return out


def test_dict_vectorizer(roundtrip):
    from sklearn.feature_extraction import DictVectorizer

    train, test = _dicts(60, 3), _dicts(20, 4) + [{"unknown": 1.0, "colour": "violet"}, {}]
    for est in (DictVectorizer(sparse=False).fit(train), DictVectorizer().fit(train),
                DictVectorizer(separator="::", sort=False).fit(train)):
        proxy = roundtrip(est)
        for X in (test, test[:1], test[0]):
            want = est.transform(X)
            _same(proxy.transform(X), want.toarray() if hasattr(want, "toarray") else want)
        T = est.transform(test)
        T = T.toarray() if hasattr(T, "toarray") else T
        for TT in (T, T[:1], np.rint(T * 3).astype(np.int64), pd.DataFrame(T)):
            assert proxy.inverse_transform(TT) == est.inverse_transform(TT)
    with_none = [{"a": None, "b": 2}]
    np.testing.assert_array_equal(proxy.transform(with_none), est.transform(with_none).toarray())
    with pytest.raises(TypeError):
        est.transform([{"a": {"x": 1}}])
    with pytest.raises(TypeError):
        proxy.transform([{"a": {"x": 1}}])


def test_dict_vectorizer_pipeline(roundtrip):
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = _dicts(80, 5), _dicts(30, 6)
    scaled = make_pipeline(DictVectorizer(sparse=False), StandardScaler()).fit(train)
    sproxy = roundtrip(scaled)
    T = scaled.transform(test)
    np.testing.assert_allclose(sproxy.transform(test), T, rtol=1e-9, atol=0)
    got, want = sproxy.inverse_transform(T), scaled.inverse_transform(T)
    assert [sorted(d) for d in got] == [sorted(d) for d in want]
    for g, w in zip(got, want):
        np.testing.assert_allclose([g[k] for k in sorted(g)], [w[k] for k in sorted(w)],
                                   rtol=1e-9, atol=1e-12)
    y = np.array([d["colour"] for d in train])
    model = make_pipeline(DictVectorizer(), LogisticRegression(max_iter=1000)).fit(train, y)
    proxy = roundtrip(model)
    for X in (test, test[:1]):
        _same(proxy.predict(X), model.predict(X))
        np.testing.assert_allclose(proxy.predict_proba(X), model.predict_proba(X), rtol=1e-9,
                                   atol=0)


def test_missing_indicator_error_on_new(dataset, roundtrip):
    from sklearn.impute import MissingIndicator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = dataset("iris")
    Xn = X.copy()
    Xn[::7, 1] = np.nan
    Xn[3::11, 3] = np.nan
    est = MissingIndicator().fit(Xn)
    pipe = make_pipeline(MissingIndicator(), LogisticRegression()).fit(Xn, y)
    proxy, pproxy = roundtrip(est), roundtrip(pipe)
    for T in (Xn, Xn[:1], Xn.astype(np.float32), pd.DataFrame(Xn)):
        np.testing.assert_array_equal(proxy.transform(T), est.transform(T))
        _same(pproxy.predict(T), pipe.predict(T))
    bad = Xn.copy()
    bad[5, 0] = np.nan
    bad[9, 2] = np.nan
    for model, p in ((est, proxy), (pipe, pproxy)):
        with pytest.raises(ValueError) as want:
            (model.transform if model is est else model.predict)(bad)
        with pytest.raises(ValueError) as got:
            (p.transform if model is est else p.predict)(bad)
        assert str(got.value) == str(want.value)


def test_missing_indicator_returns_bool(dataset, roundtrip):
    # transform returns scikit-learn's bool mask, alone and at the end of a Pipeline; inside
    # a FeatureUnion it is numbers beside the other step's, as scikit-learn stacks them
    from sklearn.impute import MissingIndicator
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import StandardScaler

    X, _ = dataset("iris")
    Xn = X.copy()
    Xn[::5, 0] = np.nan
    Xn[2::9, 2] = np.nan
    for model in (MissingIndicator(), MissingIndicator(features="all", error_on_new=False),
                  make_pipeline(StandardScaler(), MissingIndicator(error_on_new=False)),
                  make_union(StandardScaler(), MissingIndicator())):
        model.fit(Xn)
        proxy = roundtrip(model)
        for T in (Xn, Xn[:1], Xn.astype(np.float32)):
            want, got = model.transform(T), proxy.transform(T)
            assert got.dtype == want.dtype, (model, got.dtype, want.dtype)
            np.testing.assert_array_equal(got, want)
