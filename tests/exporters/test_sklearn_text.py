"""Parity of the standard-library text analysis (mle_runtime.runtime.text) with scikit-learn."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.utils import murmurhash3_32 as sk_murmur

from mle_runtime.runtime.text import Analyzer, murmurhash3_32

WORDS = ["Café", "naïve", "résumé", "über", "Straße", "hello", "WORLD", "data", "the", "a",
         "x1", "42", "3.14", "foo_bar", "don't", "e-mail", "ÅNGSTRÖM", "ﬁne", "Ⅻ", "中文",
         "  ", "\t", "!!", "and", "of", "ml"]


def _texts(n=300, seed=0):
    rng = np.random.RandomState(seed)
    out = ["", " ", "a", "Hello,   World!!  ", "Ünïcödé\tand\n\nspaces"]
    for _ in range(n):
        k = rng.randint(0, 15)
        sep = rng.choice([" ", "  ", ", ", "\n", "-", ".", "\t "])
        out.append(sep.join(rng.choice(WORDS, k)))
    return out


CONFIGS = [
    {},
    {"lowercase": False},
    {"strip_accents": "ascii"},
    {"strip_accents": "unicode", "ngram_range": (1, 3)},
    {"ngram_range": (2, 2), "stop_words": "english"},
    {"token_pattern": r"(?u)\b\w+\b", "stop_words": ["the", "a", "of"]},
    {"token_pattern": r"(\w)\w*"},
    {"lowercase": False, "stop_words": ["a", "the"]},
    {"analyzer": "char", "ngram_range": (1, 3)},
    {"analyzer": "char", "ngram_range": (2, 4), "strip_accents": "unicode"},
    {"analyzer": "char_wb", "ngram_range": (1, 1)},
    {"analyzer": "char_wb", "ngram_range": (2, 5), "lowercase": False},
]


@pytest.mark.parametrize("params", CONFIGS, ids=str)
def test_analyzer_matches_scikit_learn(params):
    vec = CountVectorizer(**params)
    sk = vec.build_analyzer()
    stop = vec.get_stop_words()
    ours = Analyzer({
        "analyzer": vec.analyzer, "lowercase": vec.lowercase,
        "strip_accents": vec.strip_accents, "ngram_range": list(vec.ngram_range),
        "token_pattern": vec.token_pattern,
        "stop_words": None if stop is None else sorted(stop),
    })
    for doc in _texts():
        assert ours(doc) == sk(doc), doc


def test_analyzer_refuses_bad_settings():
    with pytest.raises(ValueError, match="capturing group"):
        Analyzer({"token_pattern": r"(a)(b)"})
    with pytest.raises(ValueError, match="analyzer"):
        Analyzer({"analyzer": "sentence"})
    with pytest.raises(ValueError, match="ngram_range"):
        Analyzer({"ngram_range": [2, 1]})
    with pytest.raises(ValueError, match="strip_accents"):
        Analyzer({"strip_accents": "latin"})


def test_murmurhash_matches_scikit_learn():
    keys = ["", "a", "ab", "abc", "abcd", "abcde", "Café", "中文字符", "x=1"] + _texts(200, 1)
    keys += sorted(ENGLISH_STOP_WORDS)
    for key in keys:
        assert murmurhash3_32(key) == sk_murmur(key, seed=0), key
        assert murmurhash3_32(key, seed=7) == sk_murmur(key, seed=7), key
    assert murmurhash3_32(b"bytes") == sk_murmur(b"bytes", seed=0)


# ---------------------------------------------------------------- stored vectorizers

import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402

import mle_runtime as mle  # noqa: E402
from mle_runtime.errors import InputError, UnsupportedModelError  # noqa: E402

RTOL = 1e-9


def _corpus():
    """Sentences of scikit-learn's bundled datasets' descriptions, with unicode, accents,
    empty documents and unseen words mixed in (seeded)."""
    from sklearn import datasets

    sentences = []
    for load in (datasets.load_iris, datasets.load_wine, datasets.load_breast_cancer,
                 datasets.load_diabetes, datasets.load_digits, datasets.load_linnerud):
        sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n\n", load().DESCR)
                      if s.strip()]
    rng = np.random.RandomState(0)
    extra = _texts(60, seed=3)
    docs = sentences + extra
    rng.shuffle(docs)
    y = np.array([len(d) % 3 for d in docs])  # a learnable, seeded target
    y[rng.rand(len(y)) < 0.2] = rng.randint(0, 3)
    return docs, y


DOCS, Y = _corpus()
TEST = DOCS[::4] + ["", " ", "completely unseen zyzzyva words", "Café NAÏVE résumé über",
                    "the the the of and", "中文 ﬁne Ⅻ", "x" * 300]


def _dense(a):
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)


def _roundtrip(est, tmp_path):
    path = tmp_path / "m.mle"
    mle.dump(est, path)
    return mle.load(path)


def _check(est, model, docs, methods):
    """Each method on docs as a list, a numpy array and a pandas Series, and single rows;
    returns the largest relative difference seen."""
    import pandas as pd

    worst = 0.0
    for m in methods:
        want = _dense(getattr(est, m)(docs))
        for x in (list(docs), np.array(docs, dtype=object), np.array(docs), pd.Series(docs)):
            got = getattr(model, m)(x)
            assert got.shape == want.shape and got.dtype == want.dtype, (m, got.dtype, want.dtype)
            if want.dtype.kind == "f":
                np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
                fin = np.isfinite(want)
                den = np.maximum(np.abs(want[fin]), np.finfo(float).tiny)
                if fin.any():
                    worst = max(worst, float(np.max(np.abs(got[fin] - want[fin]) / den)))
            else:
                np.testing.assert_array_equal(got, want)
        for i in (0, len(docs) // 2, len(docs) - 1):
            got = getattr(model, m)([docs[i]])
            np.testing.assert_allclose(got, want[i:i + 1], rtol=RTOL, atol=0)
    return worst


VECTORIZER_PARAMS = [
    {},
    {"lowercase": False},
    {"strip_accents": "ascii"},
    {"strip_accents": "unicode", "ngram_range": (1, 2)},
    {"token_pattern": r"(?u)\b\w+\b", "stop_words": ["the", "a", "of", "and"]},
    {"stop_words": "english", "ngram_range": (2, 3)},
    {"analyzer": "char", "ngram_range": (2, 4)},
    {"analyzer": "char_wb", "ngram_range": (1, 3)},
    {"max_features": 50},
    {"min_df": 2, "max_df": 0.5},
    {"binary": True},
    {"vocabulary": ["data", "the", "of", "samples", "features", "zzz"]},
]

TFIDF_PARAMS = [
    {},
    {"norm": "l1"},
    {"norm": None},
    {"use_idf": False},
    {"smooth_idf": False},
    {"sublinear_tf": True},
    {"sublinear_tf": True, "binary": True, "norm": "l1", "ngram_range": (1, 2)},
    {"analyzer": "char_wb", "ngram_range": (2, 3), "sublinear_tf": True},
    {"dtype": np.float32},
    {"dtype": np.float32, "norm": "l1", "smooth_idf": False},
    {"dtype": np.float32, "use_idf": False, "binary": True},
]

HASHING_PARAMS = [
    {"n_features": 2 ** 10},
    {"n_features": 64, "alternate_sign": False},
    {"n_features": 97, "norm": "l1"},
    {"n_features": 33, "norm": None, "binary": True},
    {"n_features": 16, "norm": None},
    {"n_features": 2 ** 18, "analyzer": "char", "ngram_range": (1, 2)},
    {"n_features": 50, "norm": None, "dtype": np.float32},
    {"n_features": 50, "dtype": np.float32},
    {"n_features": 70, "norm": "l1", "dtype": np.float32, "alternate_sign": False},
]


@pytest.mark.parametrize("params", VECTORIZER_PARAMS, ids=str)
def test_count_vectorizer_transform(params, tmp_path):
    est = CountVectorizer(**params).fit(DOCS)
    model = _roundtrip(est, tmp_path)
    _check(est, model, TEST, ["transform"])


@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.float64])
def test_count_vectorizer_dtype(dtype, tmp_path):
    est = CountVectorizer(dtype=dtype).fit(DOCS)
    _check(est, _roundtrip(est, tmp_path), TEST, ["transform"])


@pytest.mark.parametrize("params", TFIDF_PARAMS + VECTORIZER_PARAMS[1:8], ids=str)
def test_tfidf_vectorizer_transform(params, tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    est = TfidfVectorizer(**params).fit(DOCS)
    _check(est, _roundtrip(est, tmp_path), TEST, ["transform"])


@pytest.mark.parametrize("params", HASHING_PARAMS, ids=str)
def test_hashing_vectorizer_transform(params, tmp_path):
    from sklearn.feature_extraction.text import HashingVectorizer

    est = HashingVectorizer(**params).fit(DOCS)
    _check(est, _roundtrip(est, tmp_path), TEST, ["transform"])


def _linear_models():
    from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
    from sklearn.svm import LinearSVC

    return {
        "logreg": (LogisticRegression(max_iter=500), Y),
        "logreg-binary": (LogisticRegression(), Y == 1),
        "linearsvc": (LinearSVC(), Y),
        "sgd-log": (SGDClassifier(loss="log_loss", random_state=0), Y),
        "sgd-huber": (SGDClassifier(loss="modified_huber", random_state=0), Y == 2),
        "ridge": (Ridge(), Y.astype(float) * 1.5),
        "ridge-2d": (Ridge(), np.c_[Y, Y == 1].astype(float)),
    }


def _pipelines():
    from sklearn.feature_extraction.text import (HashingVectorizer, TfidfTransformer,
                                                 TfidfVectorizer)

    return {
        "tfidf": lambda: [TfidfVectorizer()],
        "tfidf-sub-bigram": lambda: [TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2),
                                                     min_df=2)],
        "count": lambda: [CountVectorizer(binary=True, stop_words="english")],
        "count+tfidf": lambda: [CountVectorizer(), TfidfTransformer(norm="l1")],
        "hashing": lambda: [HashingVectorizer(n_features=512)],
        "hashing+tfidf": lambda: [HashingVectorizer(n_features=300, norm=None,
                                                    alternate_sign=False),
                                  TfidfTransformer(sublinear_tf=True)],
        "char_wb": lambda: [TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))],
        "tfidf-float32": lambda: [TfidfVectorizer(dtype=np.float32)],
        "count-float32+tfidf": lambda: [CountVectorizer(dtype=np.float32),
                                        TfidfTransformer()],
    }


@pytest.mark.parametrize("vec", sorted(_pipelines()))
@pytest.mark.parametrize("lin", sorted(_linear_models()))
def test_vectorizer_then_linear_model(vec, lin, tmp_path):
    from sklearn.pipeline import make_pipeline

    clf, y = _linear_models()[lin]
    est = make_pipeline(*_pipelines()[vec](), clf).fit(DOCS, y)
    if "float32" in vec and np.asarray(est[-1].coef_).dtype == np.float32:
        # fitted on float32 features: scipy's product sums in float32; refused
        from mle_runtime.exporters import sklearn as exporter

        with pytest.raises(UnsupportedModelError, match="float32 coefficients"):
            exporter.export(est)
        with pytest.raises(UnsupportedModelError):
            mle.dump(est, tmp_path / "m.mle")
        return
    model = _roundtrip(est, tmp_path)
    methods = [m for m in ("predict", "decision_function", "predict_proba", "predict_log_proba")
               if hasattr(est, m)]
    worst = _check(est, model, TEST, methods)
    assert worst <= RTOL
    ops = mle.inspect_model(tmp_path / "m.mle")["graph"]["ops"]
    assert "TextLinear" in ops and "TextCounts" not in ops, ops  # fused: no dense rows


def test_batch_larger_than_a_chunk(tmp_path, monkeypatch):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    from mle_runtime.runtime import text

    est = make_pipeline(TfidfVectorizer(), LinearSVC()).fit(DOCS, Y)
    model = _roundtrip(est, tmp_path)
    monkeypatch.setattr(text, "_CHUNK", 40)  # many chunks of a few rows each
    docs = TEST * 5
    np.testing.assert_array_equal(model.decision_function(docs), est.decision_function(docs))
    np.testing.assert_array_equal(model.predict(docs), est.predict(docs))


def test_float32_tfidf_feeds_the_linear_model_its_float32_values(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    est = make_pipeline(TfidfVectorizer(dtype=np.float32), LinearSVC()).fit(DOCS, Y)
    assert est[-1].coef_.dtype == np.float64  # scipy upcasts the float32 rows
    model = _roundtrip(est, tmp_path)
    np.testing.assert_array_equal(model.decision_function(TEST), est.decision_function(TEST))
    vec = est[0]
    np.testing.assert_array_equal(_roundtrip(vec, tmp_path).transform(TEST),
                                  vec.transform(TEST).toarray())


def test_input_refusals(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    est = TfidfVectorizer().fit(DOCS)
    model = _roundtrip(est, tmp_path)
    with pytest.raises(ValueError, match="string object received"):
        model.transform("one document")
    with pytest.raises(InputError, match="np.nan is an invalid document"):
        model.transform(["a", np.nan])
    with pytest.raises(InputError, match="0 documents"):
        model.transform([])
    with pytest.raises(InputError, match="1-D"):
        model.transform(np.array([["a", "b"]]))
    np.testing.assert_array_equal(model.transform([b"caf\xc3\xa9 data"]),
                                  est.transform([b"caf\xc3\xa9 data"]).toarray())


def _custom_tokenizer(doc):
    return doc.split()


@pytest.mark.parametrize("make, match", [
    (lambda: CountVectorizer(tokenizer=_custom_tokenizer, token_pattern=None), "tokenizer"),
    (lambda: CountVectorizer(preprocessor=str.upper), "preprocessor"),
    (lambda: CountVectorizer(analyzer=_custom_tokenizer), "analyzer"),
    (lambda: CountVectorizer(strip_accents=str.lower), "strip_accents"),
])
def test_refused_callables_are_named(make, match, tmp_path):
    est = make().fit(DOCS)
    with pytest.raises(UnsupportedModelError, match=match):
        mle.dump(est, tmp_path / "m.mle")


def test_refused_settings(tmp_path):
    from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.svm import LinearSVC

    cases = [
        (CountVectorizer(input="filename").fit([__file__]), "input='filename'"),
        (TfidfVectorizer(dtype=np.float32, sublinear_tf=True).fit(DOCS), "float32"),
        (make_pipeline(CountVectorizer(dtype=np.float32),
                       TfidfTransformer(sublinear_tf=True)).fit(DOCS), "float32"),
        (make_pipeline(TfidfVectorizer(), TfidfTransformer()).fit(DOCS), "TfidfTransformer"),
        (make_pipeline(FunctionTransformer(), CountVectorizer()).fit(DOCS), "first step"),
        (make_pipeline(FeatureUnion([("w", TfidfVectorizer()),
                                     ("c", TfidfVectorizer(analyzer="char"))]),
                       LinearSVC()).fit(DOCS, Y), "more than one text vectorizer"),
    ]
    from mle_runtime.exporters import sklearn as exporter

    for est, match in cases:
        with pytest.raises(UnsupportedModelError, match=match):
            exporter.export(est)
        with pytest.raises(UnsupportedModelError):
            mle.dump(est, tmp_path / "m.mle")


FRESH = textwrap.dedent(r"""
    import sys
    for blocked in ("sklearn", "scipy", "pandas"):
        sys.modules[blocked] = None  # importing them raises ImportError
    import json
    import numpy as np
    import mle_runtime as mle
    model = mle.load(sys.argv[1])
    docs = json.load(open(sys.argv[2]))
    np.save(sys.argv[3], model.decision_function(docs))
    np.save(sys.argv[4], model.predict(docs))
""")


def test_fresh_process_without_scikit_learn(tmp_path):
    import json

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    est = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC()).fit(DOCS, Y)
    mle.dump(est, tmp_path / "m.mle")
    (tmp_path / "docs.json").write_text(json.dumps(TEST))
    out = [str(tmp_path / "d.npy"), str(tmp_path / "p.npy")]
    proc = subprocess.run([sys.executable, "-c", FRESH, str(tmp_path / "m.mle"),
                           str(tmp_path / "docs.json"), *out], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_array_equal(np.load(out[0]), est.decision_function(TEST))
    np.testing.assert_array_equal(np.load(out[1]), est.predict(TEST))


@pytest.mark.parametrize("params", CONFIGS, ids=str)
def test_analyzer_function_is_the_analyzer(params):
    vec = CountVectorizer(**params)
    stop = vec.get_stop_words()
    ours = Analyzer({
        "analyzer": vec.analyzer, "lowercase": vec.lowercase,
        "strip_accents": vec.strip_accents, "ngram_range": list(vec.ngram_range),
        "token_pattern": vec.token_pattern,
        "stop_words": None if stop is None else sorted(stop),
    })
    fast = ours.function()
    for doc in _texts():
        assert fast(doc) == ours(doc), doc


@pytest.mark.parametrize("make", [
    lambda: CountVectorizer(),
    lambda: CountVectorizer(lowercase=False, token_pattern=r"(?u)\b\w+\b"),
    lambda: CountVectorizer(stop_words=["data", "the"],
                            vocabulary=["data", "the", "of", "zqjxmarker", "σας", "ΣΑΣ"]),
    lambda: __import__("sklearn.feature_extraction.text", fromlist=["x"]).HashingVectorizer(
        n_features=40, stop_words="english", norm=None),
])
def test_batches_tokenised_at_once_equal_one_document_at_a_time(make, tmp_path):
    # documents holding the batch path's marker word (it then tokenises one at a time),
    # final sigmas at the ends of documents, case-ignorable characters next to them
    est = make().fit(DOCS + ["zqjxmarker ΣΑΣ σας"])
    model = _roundtrip(est, tmp_path)
    docs = ["ΟΔΟΣ", "ΣΑΣ'", "'ΣΑΣ", "Σ", "the data", "", "ΑΣ\nΣΑ", "x_y z"] + TEST
    for batch in (docs, docs + ["a zqjxmarker b"], docs + ["ZQJXMARKER"]):
        want = est.transform(batch).toarray()
        np.testing.assert_array_equal(model.transform(batch), want)
        np.testing.assert_array_equal(np.vstack([model.transform([d]) for d in batch]), want)


def test_loaded_model_answers_as_the_pipeline(tmp_path):
    import pickle

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    est = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC()).fit(DOCS, Y)
    model = _roundtrip(est, tmp_path)
    assert not hasattr(model, "n_features_in_") and not hasattr(est, "n_features_in_")
    np.testing.assert_array_equal(model.named_steps["tfidfvectorizer"].idf_, est[0].idf_)
    assert model.get_params()["tfidfvectorizer__ngram_range"] == (1, 2)
    assert model.score(TEST[:-7], est.predict(TEST[:-7])) == 1.0
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(TEST), est.predict(TEST))


@pytest.mark.parametrize("make", [
    lambda: (CountVectorizer(binary=True), "BernoulliNB"),
    lambda: (CountVectorizer(), "MultinomialNB"),
    lambda: (CountVectorizer(), "ComplementNB"),
    lambda: (CountVectorizer(dtype=np.int32), "OneVsRestClassifier"),
])
def test_other_models_after_a_vectorizer(make, tmp_path):
    from sklearn import multiclass, naive_bayes
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    vec, name = make()
    last = (multiclass.OneVsRestClassifier(LogisticRegression()) if name == "OneVsRestClassifier"
            else getattr(naive_bayes, name)())
    est = make_pipeline(vec, last).fit(DOCS, Y)
    worst = _check(est, _roundtrip(est, tmp_path), TEST, ["predict", "predict_proba"])
    assert worst <= RTOL


@pytest.mark.parametrize("params", [
    {}, {"norm": "l1"}, {"norm": None, "sublinear_tf": True}, {"use_idf": False},
    {"smooth_idf": False, "sublinear_tf": True},
], ids=str)
def test_tfidf_transformer_on_numbers(params, tmp_path):
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfTransformer

    counts = CountVectorizer(max_features=40).fit_transform(DOCS).toarray()
    est = TfidfTransformer(**params).fit(counts[:150])
    model = _roundtrip(est, tmp_path)
    X = counts[150:].astype(float)
    X[0] = 0.0  # an empty row
    X[1, :3] = [-1.0, 0.5, 7.25]  # non-integers and negatives, as scikit-learn takes them
    if params.get("sublinear_tf") and est.norm:  # scikit-learn refuses log(-1) = NaN
        with pytest.raises(ValueError, match="NaN"):
            est.transform(X)
        with pytest.raises(InputError, match="NaN"):
            model.transform(X)
        X[1, 0] = 1.0
    for x in (X, X.astype(np.int64), pd.DataFrame(X), X[:1], X[5:6]):
        want = est.transform(x).toarray()
        got = model.transform(x)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=0, equal_nan=True)
    x32 = X.astype(np.float32)
    if params.get("sublinear_tf"):
        with pytest.raises(InputError, match="float32"):
            model.transform(x32)
    else:
        want = est.transform(x32).toarray()
        assert want.dtype == np.float32
        np.testing.assert_array_equal(model.transform(x32), want)
    with pytest.raises(InputError, match="NaN"):
        model.transform(np.full((1, 40), np.nan))


def test_sublinear_tf_of_negative_hashed_counts_is_refused_as_scikit_learn_refuses(tmp_path):
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.pipeline import make_pipeline

    est = make_pipeline(HashingVectorizer(n_features=8, norm=None),
                        TfidfTransformer(sublinear_tf=True)).fit(DOCS)
    model = _roundtrip(est, tmp_path)
    with pytest.raises(ValueError, match="Input contains"):
        est.transform(TEST)
    with pytest.raises(InputError, match="Input contains"):
        model.transform(TEST)
