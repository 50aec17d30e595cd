"""Side-by-side benchmark machinery shared by ``examples/compare.py`` (``make demo``),
``asv_bench/compare.py`` (``make bench``) and the asv benchmarks in ``asv_bench/benchmarks``.

Three ideas, each defined once here:

* a :class:`Case` is one table row: a model trained on one of scikit-learn's bundled datasets;
* a :class:`Peer` is one way to store, load and run a model (a group of table columns):
  joblib + scikit-learn (the reference every other peer is checked against), mle_runtime, and
  ONNX Runtime (via skl2onnx);
* :func:`measure_case` fills one row with file size, dump time (joblib.dump and mle.dump),
  load time, single-row latency, batch throughput and parity for every peer; :func:`render` prints the rows as a text table.

Adding a model is one more entry in :data:`CASES` (a dataset name and a function that returns
an unfitted estimator); adding a runtime is one more :class:`Peer` subclass in :data:`PEERS`.
Peers that cannot handle a case (no converter, package not installed) show ``-`` in its row.

Timing rules: ``time.perf_counter_ns``, the garbage collector paused while sampling (as
``timeit`` does), every measurement repeated until a time budget is spent, and the median of
the samples reported. All ratios in a table come from the same run.
"""

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

# --------------------------------------------------------------------------------------------
# Cases: the models in the table
# --------------------------------------------------------------------------------------------

_DATASETS = {}


def load_dataset(name, missing=0.0):
    """``(X, y)`` of a dataset bundled with scikit-learn, as C-contiguous float64.

    ``missing`` is the fraction of entries replaced by NaN (fixed seed), for cases whose
    pipeline starts with an imputer.
    """
    key = (name, missing)
    if key not in _DATASETS:
        from sklearn import datasets

        if name == "titanic":  # a DataFrame with numeric and string columns
            _DATASETS[key] = _titanic()
            return _DATASETS[key]
        if name == "breast_cancer_frame":  # the numbers as a DataFrame with their names
            frame = datasets.load_breast_cancer(as_frame=True)
            _DATASETS[key] = (frame.data, frame.target.to_numpy())
            return _DATASETS[key]
        if name == "texts":  # a 1-D array of 20,000 short documents (str)
            _DATASETS[key] = _texts()
            return _DATASETS[key]
        if name == "synthetic":  # the tree-ensemble benchmark data: 20,000 rows, 3 classes
            X, y = datasets.make_classification(n_samples=20_000, n_features=20,
                                                n_informative=10, n_classes=3, random_state=0)
        else:
            X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        X = np.ascontiguousarray(X, dtype=np.float64)
        if missing:
            rng = np.random.default_rng(0)
            X = X.copy()
            X[rng.random(X.shape) < missing] = np.nan
        _DATASETS[key] = (X, y)
    return _DATASETS[key]


TITANIC_NUM = ["age", "fare", "sibsp"]
TITANIC_CAT = ["sex", "embarked", "pclass"]


def _titanic(n=2000):
    """A seeded titanic-like pandas DataFrame: float ages with NaN, an int column, pandas
    ``str``, ``object`` and ``category`` string columns (no missing strings, so that
    skl2onnx's string inputs can take them)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    age = rng.uniform(1, 80, n)
    age[rng.random(n) < 0.2] = np.nan
    X = pd.DataFrame({
        "age": age, "fare": rng.exponential(30, n), "sibsp": rng.integers(0, 5, n),
        "sex": pd.Series(rng.choice(["male", "female"], n), dtype="str"),
        "embarked": pd.Series(rng.choice(["S", "C", "Q"], n), dtype=object),
        "pclass": pd.Series(rng.choice(["1st", "2nd", "3rd"], n)).astype("category")})
    logit = (X["sex"] == "female") * 2.0 - 0.02 * np.nan_to_num(age, nan=30.0)
    y = (logit + rng.normal(0, 1, n) > 0).astype(int).to_numpy()
    return X, y


def _texts(n=20_000):
    """20,000 seeded short documents (3 to 24 words drawn from the words of scikit-learn's
    bundled datasets' descriptions) as a 1-D object array, and a 4-class target that depends
    on a few words."""
    import re

    from sklearn import datasets

    words = set()
    for load in (datasets.load_iris, datasets.load_wine, datasets.load_breast_cancer,
                 datasets.load_diabetes, datasets.load_digits):
        words.update(re.findall(r"[A-Za-z]+", load().DESCR))
    words = np.array(sorted(words))
    rng = np.random.default_rng(0)
    docs = np.array([" ".join(rng.choice(words, rng.integers(3, 25))) for _ in range(n)],
                    dtype=object)
    y = np.array([sum(w in d for w in ("data", "class", "the")) % 4 for d in docs])
    return docs, y


def is_text(X):
    """Documents (a 1-D array of str), not a matrix of numbers."""
    return isinstance(X, np.ndarray) and X.ndim == 1


def is_frame(X):
    return hasattr(X, "iloc")


def first_row(X):
    """X's first row as the caller passes it (a one-row DataFrame, or a (1, n) array)."""
    return X.iloc[:1] if is_frame(X) else X[:1] if is_text(X) else np.ascontiguousarray(X[:1])


@dataclass(frozen=True)
class Case:
    """One row: ``build()`` returns an unfitted estimator that is trained on ``dataset``."""

    dataset: str
    model: str
    build: object = field(repr=False, compare=False)
    missing: float = 0.0

    @property
    def name(self):
        return f"{self.dataset}:{self.model}"

    def data(self):
        return load_dataset(self.dataset, self.missing)

    def fit(self):
        """Returns ``(fitted estimator, X)``."""
        X, y = self.data()
        est = self.build()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings on unscaled data
            if _is_transformer_only(est):
                est.fit(X)
            else:
                est.fit(X, y)
        return est, X


def _is_transformer_only(est):
    return not hasattr(est, "predict") and hasattr(est, "transform")


def _scaler_logreg():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _logreg():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=10000)


def _imputer_scaler_sgd():
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(), StandardScaler(),
                         SGDClassifier(loss="log_loss", random_state=0))


def _column_transformer_logreg():
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
    return Pipeline([
        ("prep", ColumnTransformer([("num", num, TITANIC_NUM),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"),
                                     TITANIC_CAT)])),
        ("clf", LogisticRegression(max_iter=1000))])


def _column_transformer_hist_gbdt():
    from sklearn.ensemble import HistGradientBoostingClassifier

    pipe = _column_transformer_logreg()
    pipe.steps[-1] = ("clf", HistGradientBoostingClassifier(max_iter=100, random_state=0))
    return pipe


def _tfidf_linear_svc():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    return make_pipeline(TfidfVectorizer(), LinearSVC(random_state=0))


def _ridge_classifier():
    from sklearn.linear_model import RidgeClassifier

    return RidgeClassifier()


def _linear_svc():
    from sklearn.svm import LinearSVC

    return LinearSVC(random_state=0)


def _linear_regression():
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def _ridge():
    from sklearn.linear_model import Ridge

    return Ridge()


def _scaler_elasticnet():
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), ElasticNet(alpha=0.1))


def _standard_scaler():
    from sklearn.preprocessing import StandardScaler

    return StandardScaler()


def _random_forest():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, random_state=0)


def _hist_gradient_boosting():
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=200, random_state=0)


def _xgboost():
    from xgboost import XGBClassifier

    return XGBClassifier(n_estimators=500, max_depth=6, random_state=0, n_jobs=2)


def _lightgbm():
    from lightgbm import LGBMClassifier

    return LGBMClassifier(n_estimators=500, random_state=0, verbose=-1, n_jobs=2)


def _catboost():
    from catboost import CatBoostClassifier

    return CatBoostClassifier(iterations=500, depth=6, random_seed=0, verbose=0,
                              thread_count=2, allow_writing_files=False)


def _mlp():
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(),
                         MLPClassifier((64, 32), max_iter=300, random_state=0))


def _kmeans():
    from sklearn.cluster import KMeans

    return KMeans(10, n_init=1, random_state=0)


def _pca():
    from sklearn.decomposition import PCA

    return PCA(16, whiten=True)


def _svc_proba():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return make_pipeline(StandardScaler(), SVC(kernel="rbf", probability=True, random_state=0))


def _knn():
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), KNeighborsClassifier(5))


def _gaussian_nb():
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB()


BOOSTING_LIBRARIES = ("xgboost", "lightgbm", "catboost")


def library_of(est):
    """The gradient-boosting library that defines ``est``'s class, or None."""
    top = type(est).__module__.split(".")[0]
    return top if top in BOOSTING_LIBRARIES else None


CASES = [
    Case(ds, model, build, missing)
    for ds in ("iris", "wine", "breast_cancer")
    for model, build, missing in (
        ("scaler+logreg", _scaler_logreg, 0.0),
        ("logreg", _logreg, 0.0),
        ("imputer+scaler+sgd", _imputer_scaler_sgd, 0.05),
        ("ridge_classifier", _ridge_classifier, 0.0),
        ("linear_svc", _linear_svc, 0.0),
    )
] + [
    Case("diabetes", "linear_regression", _linear_regression),
    Case("diabetes", "ridge", _ridge),
    Case("diabetes", "scaler+elasticnet", _scaler_elasticnet),
    Case("breast_cancer", "standard_scaler", _standard_scaler),
    Case("breast_cancer_frame", "scaler+logreg", _scaler_logreg),
    Case("titanic", "column_transformer+logreg", _column_transformer_logreg),
    Case("titanic", "column_transformer+hist_gbdt", _column_transformer_hist_gbdt),
    Case("texts", "tfidf+linear_svc", _tfidf_linear_svc),
    Case("synthetic", "random_forest_100", _random_forest),
    Case("synthetic", "hist_gbdt_200", _hist_gradient_boosting),
    Case("synthetic", "xgboost_500", _xgboost),
    Case("synthetic", "lightgbm_500", _lightgbm),
    Case("synthetic", "catboost_500", _catboost),
    # Estimators on the dense kernels (matrix products).
    Case("digits", "scaler+mlp_64_32", _mlp),
    Case("breast_cancer", "scaler+mlp_64_32", _mlp),
    Case("digits", "kmeans_10", _kmeans),
    Case("digits", "pca_16_whiten", _pca),
    Case("breast_cancer", "scaler+svc_rbf_proba", _svc_proba),
    Case("digits", "scaler+svc_rbf_proba", _svc_proba),
    Case("breast_cancer", "scaler+knn_5", _knn),
    Case("digits", "scaler+knn_5", _knn),
    Case("breast_cancer", "gaussian_nb", _gaussian_nb),
    Case("digits", "gaussian_nb", _gaussian_nb),
]
CASES_BY_NAME = {c.name: c for c in CASES}


def timed_method(est):
    """The method a user of this model calls: predict_proba where the model has it,
    otherwise predict, transform for transformers."""
    if hasattr(est, "predict_proba"):
        return "predict_proba"
    if hasattr(est, "predict"):
        return "predict"
    return "transform"


def score_method(est):
    """The continuous output compared for parity (the labels are compared separately)."""
    for name in ("predict_proba", "decision_function", "predict", "transform"):
        if hasattr(est, name):
            return name
    raise TypeError(f"{type(est).__name__} has no prediction method")


def is_classifier(est):
    return hasattr(est, "classes_")


def tile_rows(X, n_rows):
    """``n_rows`` rows made by repeating X, C-contiguous (a copy)."""
    idx = np.arange(n_rows) % X.shape[0]
    if is_frame(X):
        return X.iloc[idx].reset_index(drop=True)
    if is_text(X):
        return X[idx]
    return np.ascontiguousarray(X[idx])


# --------------------------------------------------------------------------------------------
# Peers: the ways of storing, loading and running a model
# --------------------------------------------------------------------------------------------


class Unsupported(Exception):
    """A peer cannot handle a case (no converter, missing package); its cells show '-'."""


class Peer:
    """One runtime. ``name`` labels storage columns (size, load), ``engine`` prediction ones.

    A peer's handle is whatever ``load`` returns; ``predictor(handle, est, X)`` returns a
    zero-argument callable that computes the case's timed method on X (inputs are prepared
    outside the timed call), and ``outputs`` returns ``(scores, labels)`` for parity.
    """

    name = "?"
    engine = "?"
    ext = ".bin"
    reference = False
    times_dump = False  # save() is a dump call users make (joblib.dump, mle.dump): timed

    def check_available(self):
        """Raises :class:`Unsupported` with the reason when the peer cannot run here."""

    def save(self, est, X, path):
        raise NotImplementedError

    def load(self, path):
        raise NotImplementedError

    def predictor(self, handle, est, X):
        raise NotImplementedError

    def outputs(self, handle, est, X):
        raise NotImplementedError

    def cold_code(self, path, row):
        """Python source that imports the peer, loads ``path`` and predicts ``row`` (a list)."""
        return None


class _EstimatorPeer(Peer):
    """A peer whose loaded handle has scikit-learn's methods (the model, or a proxy of it)."""

    def predictor(self, handle, est, X):
        method = getattr(handle, timed_method(est))
        return lambda: method(X)

    def outputs(self, handle, est, X):
        scores = np.asarray(getattr(handle, score_method(est))(X))
        labels = np.asarray(handle.predict(X)) if is_classifier(est) else None
        return scores, labels


class JoblibPeer(_EstimatorPeer):
    """The reference: the fitted scikit-learn object stored with joblib (pickle)."""

    name = "joblib"
    engine = "sklearn"
    ext = ".joblib"
    reference = True
    times_dump = True

    def save(self, est, X, path):
        import joblib

        joblib.dump(est, path)

    def load(self, path):
        import joblib

        return joblib.load(path)

    def cold_code(self, path, row):
        return (f"import joblib, numpy; m = joblib.load({path!r}); "
                f"m.predict(numpy.array([{row!r}]))")


class MLEPeer(_EstimatorPeer):
    name = "mle"
    engine = "mle"
    ext = ".mle"
    times_dump = True

    def save(self, est, X, path):
        import mle_runtime

        mle_runtime.dump(est, path)

    def load(self, path):
        import mle_runtime

        # cache=False: every timed load reads, verifies and validates the file, as a first
        # load in a process does (loading an unchanged file again is served by the model
        # cache in microseconds)
        return mle_runtime.load(path, cache=False)

    def cold_code(self, path, row):
        return (f"import mle_runtime, numpy; m = mle_runtime.load({path!r}); "
                f"m.predict(numpy.array([{row!r}]))")


class NativePeer(Peer):
    """Each boosting library's own file format and predictor: XGBoost's UBJSON model and
    ``Booster.inplace_predict``, LightGBM's text model and ``Booster.predict``, CatBoost's
    ``.cbm`` model and ``predict_proba``. Not defined for scikit-learn models."""

    name = "native"
    engine = "native"
    ext = ".native"

    def save(self, est, X, path):
        lib = library_of(est)
        if lib is None:
            raise Unsupported("scikit-learn models have no format of their own besides pickle")
        if lib == "xgboost":
            est.get_booster().save_model(path + ".ubj")
            os.replace(path + ".ubj", path)
            os.symlink(os.path.basename(path), path + ".ubj")  # XGBoost reads the extension
        elif lib == "lightgbm":
            est.booster_.save_model(path)
        else:
            est.save_model(path, format="cbm")
        self._libs = getattr(self, "_libs", {})
        self._libs[path] = lib

    def load(self, path):
        lib = self._libs[path]
        if lib == "xgboost":
            import xgboost

            return lib, xgboost.Booster(model_file=path + ".ubj")
        if lib == "lightgbm":
            import lightgbm

            return lib, lightgbm.Booster(model_file=path)
        from catboost import CatBoost

        return lib, CatBoost().load_model(path, format="cbm")

    @staticmethod
    def _proba(handle):
        lib, model = handle
        if lib == "xgboost":
            return model.inplace_predict
        if lib == "lightgbm":
            return model.predict
        return lambda X: model.predict(X, prediction_type="Probability")

    def predictor(self, handle, est, X):
        proba = self._proba(handle)
        return lambda: proba(X)

    def outputs(self, handle, est, X):
        p = np.asarray(self._proba(handle)(X))
        labels = np.argmax(p, axis=1) if p.ndim == 2 else (p > 0.5).astype(np.int64)
        return p, np.asarray(est.classes_)[labels]

    def cold_code(self, path, row):
        lib = self._libs.get(path)
        load = {"xgboost": "import xgboost, numpy; m = xgboost.Booster(model_file={p!r} + '.ubj'); "
                           "m.inplace_predict(numpy.array([{r!r}]))",
                "lightgbm": "import lightgbm, numpy; m = lightgbm.Booster(model_file={p!r}); "
                            "m.predict(numpy.array([{r!r}]))",
                "catboost": "import catboost, numpy; m = catboost.CatBoost().load_model({p!r});"
                            " m.predict(numpy.array([{r!r}]))"}.get(lib)
        return load.format(p=path, r=row) if load else None


class LleavesPeer(Peer):
    """lleaves: LightGBM models compiled to machine code with LLVM (LightGBM cases only; an
    optional extra, ``pip install lleaves``). Stored as LightGBM's text model; load is the
    compiled object read back from lleaves' cache next to it (compiling happens once, at
    save). Its ``predict`` gives LightGBM's default output (class probabilities)."""

    name = "lleaves"
    engine = "lleaves"
    ext = ".lgbm.txt"

    def check_available(self):
        try:
            import lleaves  # noqa: F401
        except ImportError as e:
            raise Unsupported(f"{e.name} is not installed") from None

    def save(self, est, X, path):
        if library_of(est) != "lightgbm":
            raise Unsupported("lleaves compiles LightGBM models only")
        import lleaves

        est.booster_.save_model(path)
        lleaves.Model(model_file=path).compile(cache=path + ".o")

    def load(self, path):
        import lleaves

        model = lleaves.Model(model_file=path)
        model.compile(cache=path + ".o")
        return model

    def predictor(self, handle, est, X):
        X = np.ascontiguousarray(X, dtype=np.float64)
        return lambda: handle.predict(X)

    def outputs(self, handle, est, X):
        p = np.asarray(handle.predict(np.ascontiguousarray(X, dtype=np.float64)))
        labels = np.argmax(p, axis=1) if p.ndim == 2 else (p > 0.5).astype(np.int64)
        return p, np.asarray(est.classes_)[labels]


def _to_onnx_boosting(est, X, path):
    """ONNX export of a boosting model: onnxmltools for XGBoost and LightGBM, CatBoost's own
    exporter for CatBoost."""
    lib = library_of(est)
    if lib == "catboost":
        est.save_model(path, format="onnx")
        return
    try:
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType
    except ImportError as e:
        raise Unsupported(f"{e.name} is not installed") from None
    types = [("input", FloatTensorType([None, X.shape[1]]))]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if lib == "xgboost":
                onx = onnxmltools.convert_xgboost(est, initial_types=types)
            else:
                onx = onnxmltools.convert_lightgbm(est, initial_types=types, zipmap=False)
    except Exception as e:  # the converters raise many types for unsupported models
        first = str(e).splitlines()[0] if str(e) else ""
        raise Unsupported(f"onnxmltools: {type(e).__name__}: {first[:160]}") from None
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())


def _onnx_frame_types(X):
    """skl2onnx's inputs for a DataFrame: one column each, float or string."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [(c, FloatTensorType([None, 1]) if X[c].dtype.kind in "biuf"
             else StringTensorType([None, 1])) for c in X.columns]


def _dense_proba(out):
    """Class probabilities from an ONNX output: a tensor, or ZipMap's list of dicts."""
    if isinstance(out, list) and out and isinstance(out[0], dict):
        keys = sorted(out[0])
        return np.array([[d[k] for k in keys] for d in out])
    return np.asarray(out)


class OnnxRuntimePeer(Peer):
    """skl2onnx conversion (float32 input, the converters' supported type), ONNX Runtime CPU;
    onnxmltools for XGBoost and LightGBM, CatBoost's own ONNX export.

    Load time is ``InferenceSession`` built from the file's bytes (reading them included).
    """

    name = "onnx"
    engine = "ort"
    ext = ".onnx"

    def check_available(self):
        try:
            import onnxruntime  # noqa: F401
            import skl2onnx  # noqa: F401
        except ImportError as e:
            raise Unsupported(f"{e.name} is not installed") from None

    def save(self, est, X, path):
        if library_of(est) is not None:
            return _to_onnx_boosting(est, X, path)
        from skl2onnx import to_onnx

        final = est.steps[-1][1] if hasattr(est, "steps") else est
        options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if is_frame(X):
                    onx = to_onnx(est, initial_types=_onnx_frame_types(X), options=options)
                elif is_text(X):
                    from skl2onnx.common.data_types import StringTensorType

                    onx = to_onnx(est, initial_types=[("input", StringTensorType([None, 1]))],
                                  options=options)
                else:
                    onx = to_onnx(est, X[:1].astype(np.float32), options=options)
        except Exception as e:  # skl2onnx raises many types for unsupported models
            first = str(e).splitlines()[0] if str(e) else ""
            raise Unsupported(f"skl2onnx: {type(e).__name__}: {first[:160]}") from None
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())

    def load(self, path):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 3  # skl2onnx's declared shapes trigger harmless warnings
        with open(path, "rb") as f:
            data = f.read()
        return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])

    @staticmethod
    def _feed(handle, X):
        if is_frame(X):  # one input per column (in the frame's order, under the names
            # skl2onnx gave them): float32 numbers, strings
            return {i.name: (X[c].to_numpy(dtype=np.float32, na_value=np.nan) if X[c].dtype.kind
                             in "biuf" else X[c].astype(str).to_numpy(dtype=object)).reshape(-1, 1)
                    for i, c in zip(handle.get_inputs(), X.columns)}
        if is_text(X):  # documents: one string column
            return {handle.get_inputs()[0].name: X.astype(str).astype(object).reshape(-1, 1)}
        return {handle.get_inputs()[0].name: np.ascontiguousarray(X, dtype=np.float32)}

    def predictor(self, handle, est, X):
        feed = self._feed(handle, X)
        run = handle.run
        return lambda: run(None, feed)

    def outputs(self, handle, est, X):
        out = handle.run(None, self._feed(handle, X))
        if is_classifier(est):
            return (_dense_proba(out[1]) if len(out) > 1 else None), np.asarray(out[0])
        return out[0], None

    def cold_code(self, path, row):
        return ("import onnxruntime, numpy; "
                f"s = onnxruntime.InferenceSession({path!r}, "
                "providers=['CPUExecutionProvider']); "
                f"s.run(None, {{s.get_inputs()[0].name: numpy.array([{row!r}], "
                "dtype=numpy.float32)})")


PEERS = {p.name: p for p in (JoblibPeer(), MLEPeer(), NativePeer(), OnnxRuntimePeer(),
                             LleavesPeer())}


def get_peers(names):
    """The peers called ``names`` (the reference first); unavailable ones are dropped with a
    note on stderr."""
    peers = []
    for name in names:
        peer = PEERS[name]
        try:
            peer.check_available()
        except Unsupported as e:
            print(f"note: leaving out {name}: {e}", file=sys.stderr)
            continue
        peers.append(peer)
    peers.sort(key=lambda p: not p.reference)
    if not peers or not peers[0].reference:
        raise ValueError("the reference peer (joblib) is required")
    return peers


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def median_ns(fns, budget_s=0.2, min_samples=5, rounds=3, sample_ns=50_000, settle_ns=10e6,
              pause_s=0.0):
    """Median time of one call of each of ``fns`` (zero-argument callables), in ns.

    The callables take turns in ``rounds`` blocks each, so that every peer meets the same
    machine conditions and the ratios stay fair. Within a block one callable runs alone: thread
    pools of different runtimes (OpenMP, OpenBLAS, ONNX Runtime) spin for a while after each
    call, and alternating call by call would measure their contention for the cores instead of
    the runtimes. Each block starts after a ``pause_s`` sleep (OpenBLAS's idle workers keep
    spinning for tens of milliseconds after a call, and on a machine with few cores they
    delay the next runtime's threads by whole scheduler ticks) and ``settle_ns`` of uncounted
    calls (at least one). Calls are grouped so that one sample lasts about ``sample_ns`` (the
    timer's own cost stays negligible for microsecond calls); each callable gets ``budget_s``
    in all and at least ``min_samples`` samples.
    """
    clock = time.perf_counter_ns
    samples = [[] for _ in fns]
    inner = [None] * len(fns)
    block_ns = budget_s * 1e9 / rounds
    block_min = -(-min_samples // rounds)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for i, fn in enumerate(fns):
                if pause_s:
                    time.sleep(pause_s)
                t0 = clock()
                calls = 0
                while True:  # settle: the previous callable's threads go quiet, caches warm up
                    fn()
                    calls += 1
                    elapsed = clock() - t0
                    if elapsed >= settle_ns:
                        break
                if inner[i] is None:
                    inner[i] = max(1, int(sample_ns // max(elapsed / calls, 1)))
                n, out = inner[i], samples[i]
                taken = 0
                start = clock()
                while True:
                    t0 = clock()
                    for _ in range(n):
                        fn()
                    t1 = clock()
                    out.append((t1 - t0) / n)
                    taken += 1
                    if taken >= block_min and t1 - start >= block_ns:
                        break
    finally:
        if was_enabled:
            gc.enable()
    return [statistics.median(s) for s in samples]


@dataclass
class Cell:
    """One peer's numbers for one case (None where not measured)."""

    size: int = None
    dump_ns: float = None
    load_ns: float = None
    one_row_ns: float = None
    batch_ns: float = None
    max_abs_diff: float = None
    labels_equal: bool = None
    error: str = None


@dataclass
class Row:
    case: str
    dataset: str
    model: str
    kind: str  # classifier / regressor / transformer
    method: str
    n_features: int
    batch_rows: int
    cells: dict  # peer name -> Cell
    visits_per_row: float = None  # tree models: node_visits_per_row of the mle file
    # DataFrame cases: mle's 1-row latency with the row as an ndarray (object for strings)
    array_row_ns: float = None


def _max_abs_diff(out, ref):
    """max |out - ref| over aligned outputs (None when the shapes cannot be matched)."""
    if out is None:
        return None
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if out.size == ref.size:
        out = out.reshape(ref.shape)
    elif ref.ndim == 1 and out.ndim == 2 and out.shape == (ref.shape[0], 2):
        out = out[:, 1]  # binary scores given for both classes
    else:
        return None
    both_nan = np.isnan(out) & np.isnan(ref)
    diff = np.where(both_nan, 0.0, np.abs(out - ref))
    return float(np.max(diff)) if diff.size else 0.0


def measure_case(case, peers, directory, budget_s=0.2, batch_rows=100_000, log=None):
    """Trains ``case``, stores it with every peer into ``directory`` and measures a Row.

    Returns ``(row, paths)`` where ``paths`` maps peer name to the stored file.
    """
    est, X = case.fit()
    X1 = first_row(X)
    XB = tile_rows(X, batch_rows)
    kind = ("classifier" if is_classifier(est)
            else "transformer" if _is_transformer_only(est) else "regressor")
    row = Row(case.name, case.dataset, case.model, kind, timed_method(est),
              1 if is_text(X) else X.shape[1], batch_rows, {})
    paths, handles = {}, {}
    for peer in peers:
        cell = row.cells[peer.name] = Cell()
        path = os.path.join(directory, case.name.replace(":", "-") + peer.ext)
        try:
            peer.save(est, X, path)
            handles[peer.name] = peer.load(path)
        except Unsupported as e:
            cell.error = str(e)
            continue
        paths[peer.name] = path
        cell.size = os.path.getsize(path)
    active = [p for p in peers if p.name in handles]

    def timed(field, make, **kw):
        for peer, ns in zip(active, median_ns([make(p) for p in active], budget_s, **kw)):
            setattr(row.cells[peer.name], field, ns)

    # dump: joblib.dump (compress=0) and mle.dump (which also loads the bytes natively before
    # writing them, and writes atomically with fsync), each to a scratch file in the same
    # directory, so both meet the same filesystem
    dumpers = [p for p in active if p.times_dump]
    scratch = {p.name: os.path.join(directory, "dump-" + os.path.basename(paths[p.name]))
               for p in dumpers}
    for peer, ns in zip(dumpers, median_ns(
            [(lambda p: lambda: p.save(est, X, scratch[p.name]))(p) for p in dumpers],
            budget_s, settle_ns=0)):
        row.cells[peer.name].dump_ns = ns
    timed("load_ns", lambda p: lambda: p.load(paths[p.name]))
    timed("one_row_ns", lambda p: p.predictor(handles[p.name], est, X1))
    # batches use threads (OpenMP, OpenBLAS, ONNX Runtime's pool): let each pool go idle first
    timed("batch_ns", lambda p: p.predictor(handles[p.name], est, XB), min_samples=3,
          pause_s=min(0.1, budget_s / 2))

    if "mle" in handles and is_frame(X):
        mle_peer = next(p for p in active if p.name == "mle")
        numeric = all(dt.kind in "biuf" for dt in X.dtypes)
        A1 = X1.to_numpy(dtype=np.float64 if numeric else object)
        row.array_row_ns = median_ns([mle_peer.predictor(handles["mle"], est, A1)], budget_s)[0]
    if "mle" in paths and not is_frame(X) and not is_text(X):
        row.visits_per_row = node_visits_per_row(paths["mle"], X)
    ref_scores, ref_labels = active[0].outputs(handles[active[0].name], est, X)
    for peer in active[1:]:
        cell = row.cells[peer.name]
        scores, labels = peer.outputs(handles[peer.name], est, X)
        cell.max_abs_diff = _max_abs_diff(scores, ref_scores)
        if ref_labels is not None:
            # values compared in row order: CatBoost's own predict gives a column (n, 1) for
            # multiclass models, its predict_proba-based peers a vector
            cell.labels_equal = bool(labels is not None and labels.size == ref_labels.size
                                     and np.array_equal(labels.reshape(-1),
                                                        ref_labels.reshape(-1)))
    if log:
        log(f"  measured {case.name}")
    return row, paths


def node_visits_per_row(path, X, sample=2000):
    """Mean tree-node visits per row of the tree ensembles in the .mle file at ``path`` (the
    internal nodes a row passes, summed over trees: trees x mean depth reached), measured on
    the first ``sample`` rows of X; None for a model without trees.

    The trees are walked here in numpy from the file's own records (docs/FORMAT.md 11), with
    NaN taking each node's default direction; a categorical node counts as one visit and
    sends every row left (the benchmark data has no categories). An oblivious tree visits one
    node per level.
    """
    from mle_runtime.format import container
    from mle_runtime.format import layout as L

    with open(path, "rb") as f:
        c = container.parse(f.read())
    graph = c.json(L.SECTION_GRAPH)
    blob = c.payload(c.find(L.SECTION_DATA))

    def tensor(i):
        off, code, shape = graph["tensors"][i]
        dt = L.TENSOR_DTYPES[code]
        return np.frombuffer(blob, dtype=dt, count=int(np.prod(shape)), offset=off).reshape(shape)

    X = np.asarray(X[:sample], dtype=np.float64)
    total, found = np.zeros(len(X)), False
    for node in graph["nodes"]:
        op, attrs = node[0], (node[3] if len(node) > 3 else {})
        if op == "ObliviousEnsemble":
            found = True
            total += float(np.sum(tensor(attrs["depths"])))
        if op != "TreeEnsemble" or node[1] != ["X"]:
            continue
        found = True
        rec = L.TREE_NODE64_DTYPE if attrs["node_format"] == "node64" else L.TREE_NODE32_DTYPE
        nodes = tensor(attrs["nodes"]).reshape(-1).view(rec)
        roots = tensor(attrs["roots"]).astype(np.int64)
        v = X if attrs["node_format"] == "node64" else X.astype(np.float32)
        if "bin_offsets" in attrs:  # binned input (FORMAT.md 11.3)
            off, thr = tensor(attrs["bin_offsets"]), tensor(attrs["bin_thresholds"])
            side = "right" if attrs["compare"] == "<" else "left"
            v = np.column_stack([
                np.where(np.isnan(X[:, j]), np.nan,
                         np.searchsorted(thr[off[j]:off[j + 1]], X[:, j], side=side))
                for j in range(X.shape[1])]).astype(np.float32)
        ff = nodes["feature_flags"].astype(np.int64)
        leaf = (ff & L.TREE_LEAF) != 0
        cat = (ff & L.TREE_CATEGORICAL) != 0
        feat = np.where(leaf, 0, ff & L.TREE_FEATURE_MASK)
        dl = (ff & L.TREE_DEFAULT_LEFT) != 0
        t = nodes["threshold"]
        lt = attrs["compare"] == "<" and "bin_offsets" not in attrs
        right = nodes["right"].astype(np.int64)
        at = np.repeat(roots[:, None], len(X), axis=1)  # (trees, rows): absolute node index
        rows = np.arange(len(X))[None, :]
        while True:
            internal = ~leaf[at]
            total += internal.sum(axis=0)
            if not internal.any():
                break
            x = v[rows, feat[at]]
            th = t[at]
            go = (x < th) if lt else (x <= th)
            go = np.where(np.isnan(x), dl[at], go) | cat[at]
            root = np.repeat(roots[:, None], len(X), axis=1)
            nxt = np.where(go, at + 1, root + right[at])
            at = np.where(internal, nxt, at)
    return float(total.mean()) if found else None


def cold_start(peers, paths, row, runs=7):
    """Median wall time (ns) of fresh ``python -c`` processes: numpy alone, then each peer's
    import + load + one-row predict. Returns a list of ``(label, code, ns)``."""
    jobs = [("python -c 'import numpy'", "import numpy")]
    for peer in peers:
        code = peer.cold_code(paths[peer.name], row) if peer.name in paths else None
        if code:
            jobs.append((f"{peer.engine}: import, load, predict 1 row", code))
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    times = [[] for _ in jobs]
    for _ in range(runs):  # in turn, like median_ns, so that every job meets the same load
        for (label, code), out in zip(jobs, times):
            t0 = time.perf_counter_ns()
            subprocess.run([sys.executable, "-c", code], check=True, env=env,
                           stdout=subprocess.DEVNULL)
            out.append(time.perf_counter_ns() - t0)
    return [(label, code, statistics.median(t)) for (label, code), t in zip(jobs, times)]


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def fmt_bytes(n):
    if n is None:
        return "-"
    if n < 1024:
        return f"{n} B"
    if n < 1024 ** 2:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 ** 2:.1f} MB"


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns < 0:
        return "-" + fmt_ns(-ns)
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.3g} us"
    if ns < 1e9:
        return f"{ns / 1e6:.3g} ms"
    return f"{ns / 1e9:.3g} s"


def fmt_rate(rows_per_s):
    if rows_per_s is None:
        return "-"
    if rows_per_s >= 1e6:
        return f"{rows_per_s / 1e6:.3g}M/s"
    return f"{rows_per_s / 1e3:.3g}k/s"


def fmt_ratio(r):
    if r is None:
        return "-"
    return f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


def fmt_diff(d):
    if d is None:
        return "-"
    return "0" if d == 0 else f"{d:.1e}"


def fmt_labels(eq):
    return "-" if eq is None else ("yes" if eq else "NO")


# A metric: (group title, value of a (row, cell), formatter, Peer label attribute, lower is
# better). Batch throughput is shown as rows per second.
def _metrics(batch_rows):
    return [
        ("file size", lambda r, c: c.size, fmt_bytes, "name", True),
        ("dump", lambda r, c: c.dump_ns, fmt_ns, "name", True),
        ("load", lambda r, c: c.load_ns, fmt_ns, "name", True),
        ("1-row predict", lambda r, c: c.one_row_ns, fmt_ns, "engine", True),
        (f"batch {batch_rows:,} rows",
         lambda r, c: None if c.batch_ns is None else r.batch_rows / (c.batch_ns / 1e9),
         fmt_rate, "engine", False),
    ]


def _columns(rows, peers, subject="mle", parity=True):
    """Column groups: ``[(title, [(header, [cell text per row])])]``; ratio columns say how
    many times better ``subject`` is than each other peer."""
    batch_rows = rows[0].batch_rows if rows else 0
    names = [p.name for p in peers]
    others = [p for p in peers if p.name != subject] if subject in names else []
    groups = [("", [("data", [r.dataset for r in rows]), ("model", [r.model for r in rows]),
                    ("call", [r.method.replace("predict_", "") for r in rows])])]
    for title, get, fmt, label, lower in _metrics(batch_rows):
        cols = [(getattr(p, label), [fmt(get(r, r.cells[p.name])) for r in rows]) for p in peers]
        for other in others:
            texts = []
            for r in rows:
                a, b = get(r, r.cells[subject]), get(r, r.cells[other.name])
                texts.append(fmt_ratio(None if a is None or b is None or not a or not b
                                       else (b / a if lower else a / b)))
            head = "x" if len(others) == 1 else f"x vs {getattr(other, label)}"
            cols.append((head, texts))
        groups.append((title, cols))
    if parity:
        cols = []
        for p in peers:
            if p.reference:
                continue
            suffix = "" if len(peers) == 2 else f" {p.engine}"
            cols.append((f"max|diff|{suffix}",
                         [fmt_diff(r.cells[p.name].max_abs_diff) for r in rows]))
            cols.append((f"labels{suffix}",
                         [fmt_labels(r.cells[p.name].labels_equal) for r in rows]))
        groups.append(("parity vs sklearn", cols))
    return groups


def _table(groups):
    """Two header lines (group titles over their columns, then column headers) and rows."""
    widths = []
    for title, cols in groups:
        ws = [max(len(h), *(len(t) for t in texts)) for h, texts in cols]
        span = sum(ws) + 2 * (len(ws) - 1)
        if len(title) > span:
            ws[-1] += len(title) - span
        widths.append(ws)
    sep = " | "
    top = sep.join(
        title.center(sum(ws) + 2 * (len(ws) - 1), "-" if title else " ")
        for (title, _), ws in zip(groups, widths)
    )
    heads = sep.join("  ".join(h.rjust(w) for (h, _), w in zip(cols, ws))
                     for (_, cols), ws in zip(groups, widths))
    n = len(groups[0][1][0][1])
    lines = [top.rstrip(), heads, "-" * len(heads)]
    for i in range(n):
        lines.append(sep.join(
            "  ".join((t[i].ljust(w) if g == 0 else t[i].rjust(w)) for (_, t), w in zip(cols, ws))
            for g, ((_, cols), ws) in enumerate(zip(groups, widths))))
    return "\n".join(lines)


def render(rows, peers, *, split=False):
    """The rows as text: one wide table, or (``split``) one table per metric."""
    groups = _columns(rows, peers)
    text = (_table(groups) if not split
            else "\n\n".join(_table([groups[0], g]) for g in groups[1:]))
    notes = [f"  {name} could not run {r.case}: {c.error}"
             for r in rows for name, c in r.cells.items() if c.error]
    return text + ("\n'-': not available\n" + "\n".join(notes) if notes else "")


def render_visits(rows, peers, cores=None):
    """Batch throughput of the tree models in node visits per second per core (rows/s x node
    visits per row / cores) and nanoseconds per visit, so that the distance to the 1-2 ns per
    visit of the fastest known tree evaluators shows. Every runtime is counted as walking the
    same trees and as using all ``cores`` (os.cpu_count()) for a batch."""
    cores = cores or os.cpu_count() or 1
    trees = [r for r in rows if r.visits_per_row]
    if not trees:
        return ""
    lines = [f"batch node visits per second per core ({cores} cores; visits per row = trees x "
             "mean depth reached, counted on mle's file), and ns per visit:"]
    width = max(len(r.model) for r in trees)
    for r in trees:
        cells = []
        for p in peers:
            c = r.cells[p.name]
            if c.batch_ns is None:
                continue
            rate = r.batch_rows / (c.batch_ns / 1e9) * r.visits_per_row / cores
            cells.append(f"{p.engine} {rate / 1e6:.0f}M/s ({1e9 / rate:.2f} ns)")
        lines.append(f"  {r.model.ljust(width)}  {r.visits_per_row:8.0f} visits/row   "
                     + "   ".join(cells))
    return "\n".join(lines)


def render_frames(rows):
    """mle's 1-row latency of the DataFrame cases against the same row as an ndarray."""
    frames = [r for r in rows if r.array_row_ns and r.cells["mle"].one_row_ns]
    if not frames:
        return ""
    lines = ["1-row predict, DataFrame vs the same row as an ndarray (mle; object dtype where "
             "the frame has strings):"]
    width = max(len(r.case) for r in frames)
    for r in frames:
        df_ns = r.cells["mle"].one_row_ns
        lines.append(f"  {r.case.ljust(width)}  DataFrame {fmt_ns(df_ns)}   ndarray "
                     f"{fmt_ns(r.array_row_ns)}   DataFrame / ndarray {df_ns / r.array_row_ns:.2f}")
    return "\n".join(lines)


def render_cold(results):
    """The cold-start results, each against the first (numpy alone) and against mle."""
    base = results[0][2]
    mle = next((ns for label, _, ns in results if label.startswith("mle:")), None)
    width = max(len(label) for label, _, _ in results)
    lines = []
    for i, (label, _, ns) in enumerate(results):
        extra = ""
        if i:
            diff = fmt_ns(ns - base)
            extra = f"   ({diff if diff.startswith('-') else '+' + diff} vs numpy alone)"
            if mle is not None and not label.startswith("mle:"):
                extra += f"   mle is {fmt_ratio(ns / mle)} faster"
        lines.append(f"  {label.ljust(width)}  {fmt_ns(ns).rjust(9)}{extra}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line (examples/compare.py and asv_bench/compare.py)
# --------------------------------------------------------------------------------------------


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for mod in ("mle_runtime", "numpy", "sklearn", "joblib", "onnxruntime"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform(),
            "versions": versions}


def main(argv=None, *, peer_names=("joblib", "mle"), split=False, description=None):
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="few repetitions and a smaller batch (a smoke test, not numbers)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw numbers as JSON")
    parser.add_argument("--models", metavar="SUBSTRING", action="append",
                        help="only cases whose 'dataset:model' name contains this (repeatable)")
    parser.add_argument("--peers", default=",".join(peer_names),
                        help=f"comma-separated, from {', '.join(PEERS)} (default: %(default)s)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-process timings")
    args = parser.parse_args(argv)

    budget = 0.01 if args.quick else 0.2
    batch_rows = 10_000 if args.quick else 100_000
    cold_runs = 3 if args.quick else 7
    peers = get_peers([p.strip() for p in args.peers.split(",") if p.strip()])
    cases = [c for c in CASES if not args.models or any(m in c.name for m in args.models)]
    if not cases:
        parser.error(f"no case matches {args.models}; cases: {', '.join(CASES_BY_NAME)}")

    info = machine_info()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"measuring {len(cases)} models x {len(peers)} peers "
        f"({'quick' if args.quick else f'{budget} s per measurement'})")
    rows, cold = [], None
    with tempfile.TemporaryDirectory(prefix="mle-compare-") as tmp:
        first_paths = None
        for case in cases:
            row, paths = measure_case(case, peers, tmp, budget, batch_rows, log)
            rows.append(row)
            if not is_frame(case.data()[0]) and not is_text(case.data()[0]):  # numbers only
                first_paths = first_paths or (paths, case)
        if not args.no_cold and first_paths is not None:
            paths, case = first_paths
            X, _ = case.data()
            log(f"cold process start ({cold_runs} runs each)")
            cold = cold_start(peers, paths, [float(v) for v in X[0]], cold_runs)

    shown = ["mle_runtime", "sklearn", "joblib", "numpy", "python"]
    if any(p.engine == "ort" for p in peers):
        shown.insert(3, "onnxruntime")
    print("\n" + ", ".join(f"{k} {info['versions'][k]}" for k in shown if k in info["versions"]))
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['system']}")
    print(f"median of repeated runs ({budget} s per measurement); 'x' = how many times "
          "smaller/faster mle is; parity on the whole dataset\n")
    print(render(rows, peers, split=split))
    visits = render_visits(rows, peers)
    if visits:
        print("\n" + visits)
    frames = render_frames(rows)
    if frames:
        print("\n" + frames)
    if cold:
        print(f"\ncold process start, wall time of `python -c ...` (median of {cold_runs} runs, "
              f"model {first_paths[1].name}):")
        print(render_cold(cold))
    if args.json:
        data = {
            "machine": info,
            "config": {"quick": args.quick, "budget_s": budget, "batch_rows": batch_rows,
                       "peers": [p.name for p in peers]},
            "rows": [asdict(r) for r in rows],
            "cold_start": None if cold is None else [
                {"label": label, "code": code, "median_ns": ns} for label, code, ns in cold],
        }
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1)
    return rows
