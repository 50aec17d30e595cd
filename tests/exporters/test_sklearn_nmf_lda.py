"""Parity of NMF, MiniBatchNMF and LatentDirichletAllocation with their .mle proxies.

Their transforms run scikit-learn's iterative solvers with its stopping rules; the matrix
products go through the BLAS product, as numpy's do, and the iterations carry the last-bit
differences of those products on. Measured on digits, iris and seeded synthetic data: the
results agree within ``RTOL`` relative to the output's largest entry (the largest difference
measured over these tests is 1.9e-15 of it, NMF cd with shuffle; most are below 1e-15).
LatentDirichletAllocation uses scikit-learn's own digamma (AS 103, not scipy's psi), which
the kernel reproduces operation for operation. NMF's transform
depends on the batch (its start, ``sqrt(X.mean() / k)``, and its stopping rules sum over
the batch): compared batch by batch, as scikit-learn computes them.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import NMF, LatentDirichletAllocation, MiniBatchNMF
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import mle_runtime as mle
from mle_runtime import UnsupportedModelError

RTOL = 1e-9


def close(got, expected, what=""):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, 1e-300)
    err = float(np.max(np.abs(got - expected))) / scale if expected.size else 0.0
    assert err <= RTOL, f"{what}: relative difference {err:.3g}"


def digits(n=300):
    X, _ = load_digits(return_X_y=True)
    return X[:n].astype(np.float64)


def batches(X):
    n = X.shape[0]
    return [("all", X), ("first row", X[:1]), ("row", X[n // 2:n // 2 + 1]),
            ("slice", X[10:37]), ("fortran", np.asfortranarray(X[:50])),
            ("int", np.round(X[:40]).astype(np.int64)), ("list", X[:5].tolist())]


def check_batches(model, proxy, X):
    for what, b in batches(X):
        try:
            expected = model.transform(b)
        except ValueError as e:  # scikit-learn refuses this batch: so does the proxy
            with pytest.raises(ValueError, match=str(e).split(",")[0]):
                proxy.transform(b)
            continue
        close(proxy.transform(b), expected, what)


NMF_MODELS = {
    "cd": lambda: NMF(5, init="nndsvda", solver="cd", max_iter=400, random_state=0),
    "cd(shuffle)": lambda: NMF(5, solver="cd", shuffle=True, random_state=3, max_iter=300),
    "cd(alpha)": lambda: NMF(5, solver="cd", alpha_W=0.01, alpha_H="same", l1_ratio=0.3,
                             random_state=0, max_iter=300),
    "cd(l2)": lambda: NMF(4, solver="cd", alpha_W=0.02, l1_ratio=0.0, random_state=0),
    "mu": lambda: NMF(5, solver="mu", random_state=0, max_iter=300),
    "mu(kl)": lambda: NMF(5, solver="mu", beta_loss="kullback-leibler", random_state=0,
                          max_iter=300),
    "mu(kl,alpha)": lambda: NMF(5, solver="mu", beta_loss="kullback-leibler", alpha_W=0.01,
                                l1_ratio=0.5, random_state=0, max_iter=300),
    "mu(kl,l1)": lambda: NMF(5, solver="mu", beta_loss="kullback-leibler", alpha_W=0.01,
                             l1_ratio=1.0, random_state=0, max_iter=300),
    "mu(beta=1.5)": lambda: NMF(4, solver="mu", beta_loss=1.5, random_state=0, max_iter=300),
    "mu(beta=3)": lambda: NMF(4, solver="mu", beta_loss=3.0, random_state=0, max_iter=300),
    "mu(alpha)": lambda: NMF(5, solver="mu", alpha_W=0.05, l1_ratio=0.5, random_state=0,
                             max_iter=300),
    "mu(tol=0)": lambda: NMF(3, solver="mu", tol=0.0, max_iter=50, random_state=0),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", list(NMF_MODELS))
def test_nmf_digits(name, roundtrip):
    X = digits()
    model = NMF_MODELS[name]().fit(X)
    proxy = roundtrip(model)
    check_batches(model, proxy, X)
    W = model.transform(X)
    close(proxy.inverse_transform(W), model.inverse_transform(W), "inverse_transform")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("beta", ["itakura-saito", 0.5])
def test_nmf_beta_below_one(beta, roundtrip):
    X = digits(200) + 0.5  # no zeros (scikit-learn refuses them for beta <= 0)
    model = NMF(4, solver="mu", beta_loss=beta, init="nndsvda", random_state=0,
                max_iter=200).fit(X)
    proxy = roundtrip(model)
    check_batches(model, proxy, X)
    if beta == "itakura-saito":
        with pytest.raises(ValueError, match="beta_loss <= 0"):
            model.transform(X - 0.5)
        with pytest.raises(ValueError, match="beta_loss <= 0"):
            proxy.transform(X - 0.5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("ds", ["iris", "wine", "clf_binary"])
@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_nmf_datasets(ds, solver, dataset, roundtrip):
    X, _ = dataset(ds)
    X = np.abs(X)
    model = NMF(3, solver=solver, random_state=0, max_iter=500).fit(X)
    check_batches(model, roundtrip(model), X)


MINIBATCH = {
    "frobenius": lambda: MiniBatchNMF(5, random_state=0, batch_size=64),
    "kl": lambda: MiniBatchNMF(5, beta_loss="kullback-leibler", random_state=0),
    "is": lambda: MiniBatchNMF(4, beta_loss="itakura-saito", random_state=0, init="nndsvda"),
    "alpha": lambda: MiniBatchNMF(5, alpha_W=0.01, l1_ratio=0.4, random_state=0),
    "kl(alpha)": lambda: MiniBatchNMF(5, beta_loss="kullback-leibler", alpha_W=0.01,
                                      l1_ratio=0.4, random_state=0),
    "transform_max_iter": lambda: MiniBatchNMF(4, transform_max_iter=7, random_state=0),
    "beta=1.5": lambda: MiniBatchNMF(4, beta_loss=1.5, random_state=0),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", list(MINIBATCH))
def test_minibatch_nmf(name, roundtrip):
    X = digits() + (0.5 if name == "is" else 0.0)
    model = MINIBATCH[name]().fit(X)
    proxy = roundtrip(model)
    check_batches(model, proxy, X)
    W = model.transform(X)
    close(proxy.inverse_transform(W), model.inverse_transform(W), "inverse_transform")


def test_minibatch_nmf_takes_negative_values(roundtrip):
    # MiniBatchNMF.transform does not check the sign of X
    X = digits(100)
    model = MiniBatchNMF(3, random_state=0, max_iter=50).fit(X)
    proxy = roundtrip(model)
    Xn = X.copy()
    Xn[0, 5] = -1.0
    close(proxy.transform(Xn), model.transform(Xn), "negative entry")


def _counts(n=120, f=40, seed=0):
    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.full(f, 0.3), size=4)
    mix = rng.dirichlet(np.full(4, 0.5), size=n)
    X = np.array([rng.multinomial(rng.integers(5, 60), p) for p in mix @ topics])
    X[3] = 0  # an empty document
    return X.astype(np.float64)


LDA = {
    "batch": lambda: LatentDirichletAllocation(4, learning_method="batch", random_state=0),
    "online": lambda: LatentDirichletAllocation(5, learning_method="online", random_state=0,
                                                max_iter=5),
    "priors": lambda: LatentDirichletAllocation(3, doc_topic_prior=0.2, topic_word_prior=0.05,
                                                mean_change_tol=1e-5, max_doc_update_iter=300,
                                                random_state=1),
    "few_updates": lambda: LatentDirichletAllocation(6, max_doc_update_iter=3,
                                                     random_state=0),
}


@pytest.mark.parametrize("name", list(LDA))
def test_lda(name, roundtrip):
    X = _counts()
    model = LDA[name]().fit(X)
    proxy = roundtrip(model)
    check_batches(model, proxy, X)
    # float32 X: converted to float64, as scikit-learn converts it
    close(proxy.transform(X.astype(np.float32)), model.transform(X.astype(np.float32)),
          "float32")
    assert not hasattr(proxy, "inverse_transform")


def test_lda_text_pipeline(roundtrip):
    rng = np.random.default_rng(4)
    groups = [["ball", "goal", "team", "match", "score", "league"],
              ["cpu", "memory", "disk", "kernel", "driver", "linux"],
              ["bread", "oven", "flour", "sugar", "butter", "bake"]]
    docs = [" ".join(rng.choice(groups[i % 3] + ["the", "a", "of"], size=rng.integers(3, 25)))
            for i in range(150)]
    model = make_pipeline(CountVectorizer(), LatentDirichletAllocation(3, random_state=0))
    model.fit(docs[:120])
    proxy = roundtrip(model)
    test = docs[120:] + ["unseen words only", ""]
    close(proxy.transform(test), model.transform(test), "text")
    close(proxy.transform(test[:1]), model.transform(test[:1]), "one document")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dataframe_nan_negative_and_float32(roundtrip):
    X = digits(150)
    df = pd.DataFrame(X, columns=[f"p{i}" for i in range(X.shape[1])])
    for model in (NMF(4, random_state=0, max_iter=300).fit(df),
                  LatentDirichletAllocation(3, random_state=0).fit(df)):
        proxy = roundtrip(model)
        close(proxy.transform(df), model.transform(df), "DataFrame")
        bad = X[:3].copy()
        bad[1, 2] = np.nan
        with pytest.raises(ValueError):
            model.transform(bad)
        with pytest.raises(ValueError, match="NaN"):
            proxy.transform(bad)
        neg = X[:3].copy()
        neg[2, 7] = -1.0
        with pytest.raises(ValueError, match="Negative values"):
            model.transform(neg)
        with pytest.raises(ValueError, match="Negative values"):
            proxy.transform(neg)
    nmf = NMF(4, random_state=0, max_iter=300).fit(X)
    proxy = roundtrip(nmf)
    with pytest.raises(TypeError):
        nmf.transform(X.astype(np.float32))  # scikit-learn: H and X dtypes differ
    with pytest.raises(ValueError, match="float64"):
        proxy.transform(X.astype(np.float32))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_with_scaler(roundtrip):
    X = digits(200)
    model = make_pipeline(MinMaxScaler(), NMF(4, random_state=0, max_iter=300)).fit(X)
    proxy = roundtrip(model)
    check_batches(model, proxy, X)


def test_refused(tmp_path):
    docs = ["red cat", "blue dog", "red dog", "a big cat"]
    with pytest.raises(UnsupportedModelError, match="text vectorizer"):
        mle.dump(make_pipeline(CountVectorizer(), NMF(2, random_state=0, max_iter=50)).fit(
            docs), tmp_path / "t.mle")
    X = digits(100)
    for model in (NMF(3, solver="cd", shuffle=True, random_state=None, max_iter=50),
                  NMF(3, solver="cd", shuffle=True, random_state=np.random.RandomState(0),
                      max_iter=50)):
        with pytest.warns(Warning):
            model.fit(X)
        with pytest.raises(UnsupportedModelError, match="random_state"):
            mle.dump(model, tmp_path / "m.mle")
    for model in (NMF(3, max_iter=50, random_state=0), MiniBatchNMF(3, random_state=0),
                  LatentDirichletAllocation(2, random_state=0)):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X.astype(np.float32))
        if model.components_.dtype == np.float32:
            with pytest.raises(UnsupportedModelError, match="float32"):
                mle.dump(model, tmp_path / "m.mle")


def test_fitted_attributes(roundtrip):
    X = _counts()
    model = LatentDirichletAllocation(3, random_state=0).fit(X)
    proxy = roundtrip(model)
    np.testing.assert_array_equal(proxy.components_, model.components_)
    nmf = NMF(3, random_state=0, max_iter=400).fit(digits(100))
    p = roundtrip(nmf)
    np.testing.assert_array_equal(p.components_, nmf.components_)
    assert p.n_components_ == nmf.n_components_
