"""Writes the fuzzers' seed corpus: small files of every kind mle_runtime reads.

``OUT/load/``: plain model files of each family (scikit-learn linear models, a scaler
pipeline, a tree and a forest, HistGradientBoosting, XGBoost, LightGBM, CatBoost; each tiny),
value files (dicts, lists, tuples, sets, arrays, pandas objects, datetimes, models inside,
objects shared through references),
envelopes (compressed with each codec, encrypted with ``_common.AES_KEY``, quantised fp16 and
int8), joblib-layout files (the zlib, gzip, bz2, lzma and xz stream of a file, as ``dump``
writes for joblib's methods), a value file whose pickled objects hold arrays (format 1.4), and
signed files (signed with ``_common.SIGNING_SEED``).

``OUT/values/``: for each value file, its value section's JSON, a NUL byte and its tensor
data, the input format of ``fuzz_values.py``.

The corpus is generated, never committed: ``python fuzz/make_corpus.py build/fuzz/seeds``.
Needs the ``dev`` extra (the frameworks, pandas, zstandard, cryptography).
"""

import argparse
import datetime
import decimal
import io
import os
import sys
import types
import warnings
from collections import Counter, OrderedDict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under PYTHONSAFEPATH
import _common  # noqa: E402

os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")  # reproducible metadata


def models():
    """``{name: fitted model}``: one tiny model of each family."""
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.ensemble import (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier)
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    Xi, yi = load_iris(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    Xd, yd = Xd[:, :4], yd
    out = {
        "linear_regression": LinearRegression().fit(Xd, yd),
        "ridge": Ridge(alpha=1.0).fit(Xd, yd),
        "logistic": LogisticRegression(max_iter=500).fit(Xi, yi),
        "scaler_pipeline": make_pipeline(StandardScaler(),
                                         LogisticRegression(max_iter=500)).fit(Xi, yi),
        "scaler": StandardScaler().fit(Xi),
        "tree": DecisionTreeRegressor(max_depth=3, random_state=0).fit(Xd, yd),
        "forest": RandomForestClassifier(n_estimators=3, max_depth=3,
                                         random_state=0).fit(Xi, yi),
        "hgb_regressor": HistGradientBoostingRegressor(max_iter=3, max_depth=2).fit(Xd, yd),
    }
    # Naive Bayes, dummy, discriminant analysis and isotonic regression (their own ops).
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.dummy import DummyClassifier
    from sklearn.isotonic import IsotonicRegression
    from sklearn.naive_bayes import BernoulliNB, CategoricalNB, GaussianNB

    out["gaussian_nb"] = GaussianNB().fit(Xi, yi)
    out["bernoulli_nb"] = BernoulliNB(binarize=3.0).fit(Xi, yi)
    out["categorical_nb"] = CategoricalNB().fit(np.floor(Xi), yi)
    out["dummy"] = DummyClassifier(strategy="prior").fit(Xi, yi)
    out["qda"] = QuadraticDiscriminantAnalysis(reg_param=0.1).fit(Xi, yi)
    out["isotonic"] = IsotonicRegression(out_of_bounds="raise").fit(Xd[:, 0], yd)
    # Support vector machines' probabilities (PairwiseCoupling) and kernel ridge (RowKernel).
    import warnings

    from sklearn.kernel_ridge import KernelRidge
    from sklearn.svm import SVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # probability=True is deprecated
        out["svc_probability"] = SVC(probability=True, random_state=0).fit(Xi, yi)
    # Multi-class pair values (OvoPairSums) with a polynomial kernel.
    from sklearn.svm import NuSVC

    out["nusvc_ovo"] = NuSVC(kernel="poly", degree=2, nu=0.3).fit(Xi, yi)
    out["kernel_ridge"] = KernelRidge(kernel="laplacian", gamma=0.5).fit(Xd, yd)
    # Meta-estimators: Concat, WeightedMean, Vote, AsFloat64, Interp1D.
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import StackingClassifier, VotingClassifier
    from sklearn.tree import DecisionTreeClassifier

    members = [("lr", LogisticRegression(max_iter=500)),
               ("dt", DecisionTreeClassifier(max_depth=2, random_state=0))]
    out["stacking"] = StackingClassifier(members, passthrough=True, cv=3).fit(Xi, yi)
    out["voting_soft"] = VotingClassifier(members, voting="soft", weights=[2, 1]).fit(Xi, yi)
    out["voting_hard"] = VotingClassifier(members, voting="hard").fit(Xi, yi)
    out["calibrated_isotonic"] = CalibratedClassifierCV(LogisticRegression(max_iter=500),
                                                        method="isotonic", cv=2).fit(Xi, yi)
    from sklearn.compose import TransformedTargetRegressor  # MathFn
    from sklearn.multiclass import OneVsOneClassifier  # OvoDecision, IndexConcat

    out["transformed_target"] = TransformedTargetRegressor(
        Ridge(), func=np.log1p, inverse_func=np.expm1).fit(Xd, yd)
    out["one_vs_one"] = OneVsOneClassifier(LogisticRegression(max_iter=500)).fit(Xi, yi)
    cat = np.column_stack([Xi[:, :2], (np.arange(len(Xi)) % 4).astype(float)])
    cat[::11, 0] = np.nan
    out["hgb_categorical"] = HistGradientBoostingClassifier(
        max_iter=3, max_depth=2, categorical_features=[2]).fit(cat, yi)
    # Dense kernels: layers, nearest stored row, bisection tree, distances, log-likelihood.
    import warnings

    from sklearn.cluster import BisectingKMeans, KMeans
    from sklearn.decomposition import PCA
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny MLP does not converge
        out["mlp"] = MLPClassifier((4,), max_iter=5, random_state=0).fit(Xi, yi)
    out["kmeans"] = KMeans(3, n_init=1, random_state=0).fit(Xi)
    out["bisecting_kmeans"] = BisectingKMeans(3, random_state=0).fit(Xi)
    out["pca"] = PCA(2, whiten=True).fit(Xi)
    # Nearest neighbours: KNearest (brute euclidean, kd_tree, ball_tree), NeighborVote,
    # NeighborMean, RadiusNeighbors.
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    out["knn_brute"] = KNeighborsClassifier(5, weights="distance",
                                            algorithm="brute").fit(Xi, yi)
    out["knn_kd_tree"] = KNeighborsRegressor(3, algorithm="kd_tree", leaf_size=8).fit(Xd, yd)
    out["knn_ball_tree"] = KNeighborsClassifier(4, algorithm="ball_tree", metric="minkowski",
                                                p=3, leaf_size=8).fit(Xi, yi)
    from sklearn.neighbors import RadiusNeighborsClassifier  # RadiusNeighbors

    out["radius_kd_tree"] = RadiusNeighborsClassifier(1.0, algorithm="kd_tree", leaf_size=8,
                                                      outlier_label="most_frequent").fit(Xi, yi)
    # sparse neighbour graphs: the output option "sparse", RadiusNeighbors output "graph"
    from sklearn.neighbors import KNeighborsTransformer, RadiusNeighborsTransformer

    out["knn_graph"] = KNeighborsTransformer(n_neighbors=3, algorithm="brute").fit(Xi)
    out["radius_graph"] = RadiusNeighborsTransformer(radius=1.0, mode="connectivity",
                                                     leaf_size=8).fit(Xi)
    # KNNImputer: KNNImpute (distance weights) and its MissingIndicator columns.
    from sklearn.impute import KNNImputer

    holes = np.array(Xi, dtype=np.float64)
    holes[::5, 1] = np.nan
    out["knn_imputer"] = KNNImputer(n_neighbors=3, weights="distance",
                                    add_indicator=True).fit(holes)
    # Distribution transformers: QuantileTransform, PowerTransform (Box-Cox refuses input),
    # MathFn from a FunctionTransformer.
    from sklearn.preprocessing import (FunctionTransformer, PowerTransformer,
                                       QuantileTransformer)

    out["quantile_normal"] = make_pipeline(
        QuantileTransformer(n_quantiles=20, output_distribution="normal"),
        LogisticRegression(max_iter=500)).fit(Xi, yi)
    out["power_box_cox"] = make_pipeline(FunctionTransformer(np.arcsinh),
                                         PowerTransformer(method="box-cox")).fit(Xi)
    # string columns and encoders: a ColumnTransformer with OneHot and CategoryMap nodes and
    # the input rules "strings" and "unknown"
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    words = np.array(["a", "b", "c"], dtype=object)[np.arange(len(Xi)) % 3][:, None]
    mixed = np.hstack([Xi[:, :2].astype(object), words, words[::-1]])
    out["column_transformer"] = make_pipeline(ColumnTransformer(
        [("num", StandardScaler(), [0, 1]), ("hot", OneHotEncoder(), [2]),
         ("ord", OrdinalEncoder(), [3])]), LogisticRegression(max_iter=500)).fit(mixed, yi)
    # Feature expansions: Digitize, Monomials, BSplineBasis (every extrapolation's attributes).
    from sklearn.preprocessing import KBinsDiscretizer, PolynomialFeatures, SplineTransformer

    out["kbins_onehot"] = KBinsDiscretizer(n_bins=4, encode="onehot-dense").fit(Xd)
    out["poly_ridge"] = make_pipeline(PolynomialFeatures(degree=(1, 3)), Ridge()).fit(Xd, yd)
    out["spline_linear"] = SplineTransformer(n_knots=4, extrapolation="linear").fit(Xd)
    out["spline_periodic"] = SplineTransformer(n_knots=5, degree=2,
                                               extrapolation="periodic").fit(Xd)
    out["spline_error"] = SplineTransformer(extrapolation="error",
                                            handle_missing="zeros").fit(Xd)
    # Label transformers and dicts: LabelIndex, the input rules target, sets, dicts.
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.preprocessing import LabelBinarizer, LabelEncoder, MultiLabelBinarizer

    out["label_encoder"] = LabelEncoder().fit(["b", "a", "c", "a"])
    out["label_binarizer"] = LabelBinarizer(neg_label=-1).fit([3, 1, 1, 3])
    out["multilabel_binarizer"] = MultiLabelBinarizer().fit([{"x", "y"}, {"z"}])
    out["dict_vectorizer"] = DictVectorizer().fit([{"a": 1.0, "c": "u"}, {"b": 2.0}])
    # Mixtures and nearest centres: LogSumExp, AsInputType, NearestRow into CategoryMap (Birch),
    # ShiftedLog refusing input (SkewedChi2Sampler), a TreeEnsemble of leaf numbers into OneHot.
    from sklearn.cluster import Birch
    from sklearn.ensemble import RandomTreesEmbedding
    from sklearn.kernel_approximation import SkewedChi2Sampler
    from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

    out["gaussian_mixture_full"] = GaussianMixture(2, random_state=0).fit(Xd)
    out["bayesian_mixture_diag"] = BayesianGaussianMixture(
        n_components=2, covariance_type="diag", random_state=0).fit(Xd)
    out["birch"] = Birch(n_clusters=2).fit(Xd)
    out["skewed_chi2"] = SkewedChi2Sampler(n_components=4, random_state=0).fit(np.abs(Xd))
    out["random_trees_embedding"] = RandomTreesEmbedding(n_estimators=3, max_depth=2,
                                                         random_state=0).fit(Xd)
    from sklearn.neighbors import NearestCentroid  # ManhattanDistances

    out["nearest_centroid_manhattan"] = NearestCentroid(metric="manhattan",
                                                        priors="empirical").fit(Xi, yi)
    from sklearn.cluster import FeatureAgglomeration  # SegmentMedian

    out["feature_agglomeration_median"] = FeatureAgglomeration(
        n_clusters=2, pooling_func=np.median).fit(Xd)
    # Text vectorizers: the input rule "text" (a vocabulary, and hashing with signs),
    # TextCounts (integer counts, tf-idf) and TextLinear.
    from sklearn.feature_extraction.text import (CountVectorizer, HashingVectorizer,
                                                 TfidfVectorizer)
    from sklearn.svm import LinearSVC

    docs = [s for s in load_iris().DESCR.split(".") if s.strip()][:40]
    ydocs = np.arange(len(docs)) % 3
    out["text_counts"] = CountVectorizer(stop_words=["the", "of"], ngram_range=(1, 2)).fit(docs)
    out["text_tfidf_linear"] = make_pipeline(TfidfVectorizer(sublinear_tf=True),
                                             LinearSVC()).fit(docs, ydocs)
    out["text_hashing"] = HashingVectorizer(n_features=64, analyzer="char_wb",
                                            ngram_range=(2, 3)).fit(docs)
    from sklearn.feature_extraction.text import TfidfTransformer

    out["tfidf_rows"] = TfidfTransformer(sublinear_tf=True).fit(np.abs(Xd))
    # Iterative factorizations: NMFTransform (cd with a stored sweep order, mu with KL),
    # LDATransform.
    import warnings

    from sklearn.decomposition import NMF, LatentDirichletAllocation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["nmf_cd_shuffle"] = NMF(2, solver="cd", shuffle=True, random_state=0,
                                    max_iter=20).fit(np.abs(Xd))
        out["nmf_mu_kl"] = NMF(2, solver="mu", beta_loss="kullback-leibler", random_state=0,
                               max_iter=20).fit(np.abs(Xd))
    out["lda"] = LatentDirichletAllocation(2, random_state=0, max_iter=3).fit(
        np.round(np.abs(Xd) * 3))
    # Hashing and kernel approximations: the input rule "hashed", AdditiveChi2 refusing
    # negative input, CountSketch.
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.kernel_approximation import AdditiveChi2Sampler, PolynomialCountSketch

    out["feature_hasher"] = FeatureHasher(n_features=16, input_type="string")
    out["additive_chi2"] = AdditiveChi2Sampler(sample_steps=3).fit(np.abs(Xd))
    out["count_sketch"] = PolynomialCountSketch(n_components=8, degree=3, coef0=1.0,
                                                random_state=0).fit(Xd)
    # IterativeImputer (ReplaceMissing, the input rule "all_missing") and KernelDensity.
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    Xm = Xd.copy()
    Xm[::3, 1] = np.nan
    Xm[1::4, 2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["iterative_imputer"] = IterativeImputer(max_iter=2, add_indicator=True,
                                                    random_state=0).fit(Xm)
    from sklearn.neighbors import KernelDensity

    out["kernel_density_ball"] = KernelDensity(kernel="epanechnikov", algorithm="ball_tree",
                                               bandwidth=0.2).fit(Xd)
    # Gaussian processes: GPKernel programs, GPVariance (std and variance), GPLaplaceProba.
    from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, DotProduct, Matern, WhiteKernel

    out["gaussian_process_regressor"] = GaussianProcessRegressor(
        Matern(nu=1.5) * DotProduct() + WhiteKernel(), normalize_y=True).fit(Xd[:30], yd[:30])
    out["gaussian_process_classifier"] = GaussianProcessClassifier(
        RBF() ** 2, random_state=0).fit(Xi[::5], yi[::5])
    # Manifold learning: GeodesicKernel (Isomap), Barycenter (LocallyLinearEmbedding).
    from sklearn.manifold import Isomap, LocallyLinearEmbedding

    out["isomap"] = Isomap(n_neighbors=5, n_components=2).fit(Xd[:60])
    out["locally_linear_embedding"] = LocallyLinearEmbedding(n_neighbors=6,
                                                             n_components=2).fit(Xd[:60])
    # Sparse coding: SparseEncode (omp with split_sign, lasso_cd, lasso_lars),
    # RbmPseudoLikelihood.
    from sklearn.decomposition import SparseCoder
    from sklearn.neural_network import BernoulliRBM

    atoms = np.random.RandomState(0).randn(3, Xd.shape[1])
    out["sparse_coder_omp"] = SparseCoder(atoms, transform_algorithm="omp",
                                          transform_n_nonzero_coefs=2, split_sign=True).fit(Xd)
    out["sparse_coder_lasso_cd"] = SparseCoder(atoms, transform_algorithm="lasso_cd",
                                               transform_alpha=0.1).fit(Xd)
    out["sparse_coder_lasso_lars"] = SparseCoder(atoms, transform_algorithm="lasso_lars",
                                                 transform_alpha=0.05).fit(Xd)
    out["bernoulli_rbm"] = BernoulliRBM(n_components=2, n_iter=2, random_state=0).fit(
        (Xd > 0).astype(float))
    try:
        import xgboost

        out["xgboost"] = xgboost.XGBClassifier(n_estimators=3, max_depth=2,
                                               n_jobs=1).fit(Xi, yi)
    except ImportError:
        print("xgboost not installed: no XGBoost seeds", file=sys.stderr)
    try:
        import lightgbm

        out["lightgbm"] = lightgbm.LGBMRegressor(n_estimators=3, num_leaves=4, verbose=-1,
                                                 n_jobs=1).fit(Xd, yd)
    except ImportError:
        print("lightgbm not installed: no LightGBM seeds", file=sys.stderr)
    try:
        import catboost

        out["catboost"] = catboost.CatBoostClassifier(iterations=3, depth=2, verbose=False,
                                                      thread_count=1,
                                                      allow_writing_files=False).fit(Xi, yi)
    except ImportError:
        print("catboost not installed: no CatBoost seeds", file=sys.stderr)
    return out


def values(fitted):
    """``{name: value}``: values holding every kind of node the value codec writes."""
    out = {
        "dict": {"threshold": 0.5, "name": "model", "n": 3, "flag": True, "none": None,
                 "nested": {"a": [1, 2.5, "x"], "b": (1, 2)}},
        "list": [1, -2, 3.25, "s", b"\x00\xffbytes", bytearray(b"ba"), None, [], {}],
        "containers": (frozenset({1, 2}), {3, "x"}, OrderedDict(a=1),
                       Counter("abca"), {(1, 2): "tuple key", 7: "int key"}, range(2, 9, 3)),
        "scalars": [np.float32(1.5), np.int64(-7), np.bool_(True), complex(1, -2),
                    decimal.Decimal("1.25"), float("nan"), float("-inf"), 2 ** 70],
        "arrays": {"f8": np.arange(6.0).reshape(2, 3), "f4F": np.asfortranarray(
                   np.ones((3, 2), np.float32)), "i1": np.arange(-3, 3, dtype=np.int8),
                   "U": np.array(["a", "bc"]), "S": np.array([b"x", b"yz"]),
                   "struct": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
                   "obj": np.array([1, "two", None], dtype=object),
                   "dt": np.array(["2020-01-01"], dtype="datetime64[D]"),
                   "empty": np.zeros((0, 3))},
        "times": [datetime.datetime(2024, 5, 6, 7, 8, 9, 10),
                  datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
                  datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone(
                      datetime.timedelta(hours=2), "X")),
                  datetime.date(2024, 2, 29), datetime.time(1, 2, 3),
                  datetime.timedelta(days=1, seconds=2)],
        "shared": [[1, 2]] * 3,
        "models": {"scaler": fitted["scaler"], "pair": (fitted["scaler"], fitted["tree"]),
                   "again": fitted["scaler"]},
    }
    try:
        import zoneinfo

        out["times"].append(datetime.datetime(2024, 1, 1,
                                              tzinfo=zoneinfo.ZoneInfo("Europe/Paris")))
    except Exception:  # noqa: BLE001 - no tz database: no zone seed
        pass
    try:
        import pandas as pd

        df = pd.DataFrame({"a": [1.0, 2.0, None], "b": ["x", "y", "x"],
                           "c": pd.Categorical(["p", "q", "p"]),
                           "d": pd.array([1, None, 3], dtype="Int64"),
                           "t": pd.date_range("2024-01-01", periods=3, tz="UTC")},
                          index=pd.RangeIndex(10, 13))
        out["pandas_frame"] = df
        out["pandas_misc"] = {
            "series": pd.Series([1.5, 2.5], index=["r", "s"], name="v"),
            "multi": pd.MultiIndex.from_tuples([(1, "a"), (2, "b")], names=["n", "l"]),
            "interval": pd.IntervalIndex.from_breaks([0, 1, 2]),
            "period": pd.period_range("2024-01", periods=2, freq="M"),
            "td": pd.to_timedelta([1, 2], unit="s"),
            "string": pd.array(["a", None], dtype="string"),
            "bool": pd.array([True, None], dtype="boolean"),
            "nat": [pd.NaT, pd.NA, pd.Timestamp("2024-01-01"), pd.Timedelta(1, "h"),
                    pd.Period("2024-01", "M"), pd.Interval(0, 1)],
        }
        out["pandas_with_model"] = {"frame": df[["a"]], "model": fitted["logistic"]}
    except ImportError:
        print("pandas not installed: no pandas seeds", file=sys.stderr)
    return out


def dumped(value, **kw):
    import mle_runtime as mle

    buf = io.BytesIO()
    mle.dump(value, buf, **kw)
    return buf.getvalue()


def value_input(data):
    """The fuzz_values.py input of a value file: value JSON, NUL, tensor data."""
    from mle_runtime.format import container
    from mle_runtime.format import layout as L

    c = container.parse(data)
    tree = bytes(c.payload(c.find(L.SECTION_VALUE)))
    blob = c.find(L.SECTION_DATA)
    return tree + (b"\0" + bytes(c.payload(blob)) if blob is not None else b"")


def reference_trees():
    """``{name: value JSON}``: small value trees built from ``["ref", k]`` nodes, the shapes
    through which flat JSON builds deep or wide objects (a chain of tuples each holding the
    previous one, levels of tuples each naming the previous level several times), each
    ending in a set that hashes them."""
    import json

    def tree(items):
        n = len(items)
        root = ["list"] + items + [["set", ["ref", n - 1]]]
        return json.dumps({"root": root, "memo": n + 2}, separators=(",", ":")).encode()

    chain = [["tuple"]] + [["tuple", ["ref", i]] for i in range(40)]
    fan = [["tuple", 1, 2]] + [["tuple"] + [["ref", i]] * 4 for i in range(4)]
    return {"refs_chain": tree(chain), "refs_fanout": tree(fan)}


def write_corpus(out_dir):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mle_runtime import UnsupportedModelError

    key = Ed25519PrivateKey.from_private_bytes(_common.SIGNING_SEED)
    load_dir = os.path.join(out_dir, "load")
    values_dir = os.path.join(out_dir, "values")
    os.makedirs(load_dir, exist_ok=True)
    os.makedirs(values_dir, exist_ok=True)
    files = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = models()
    for name, model in fitted.items():
        try:
            files[f"plain_{name}"] = dumped(model)
        except UnsupportedModelError as e:
            print(f"{name}: not stored natively ({e}); no seed", file=sys.stderr)
    for name, value in values(fitted).items():
        files[f"value_{name}"] = dumped(value)
    # Neural networks (PyTorch): every nn op family and a memory plan
    try:
        import torch

        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8, 4),
            torch.nn.LayerNorm(4), torch.nn.GELU(), torch.nn.Softmax(dim=1)).eval()
        files["plain_torch_cnn"] = dumped(net, example_inputs=(torch.zeros(2, 1, 4, 4),))
    except ImportError:
        print("torch not installed: no PyTorch seeds", file=sys.stderr)
    forest = fitted["forest"]
    from mle_runtime.format import compression, container, envelope

    plain = dumped(forest)
    meta = bytes(container.parse(plain).payload(container.parse(plain).find(1)))
    files["envelope_zstd"] = dumped(forest, compress=("zstd", 3))
    for method in compression.STREAM_METHODS:
        # envelopes with joblib's methods (written before format 1.4), and joblib's layout
        files[f"envelope_{method}"] = envelope.seal(plain, meta, (method, 3))
        files[f"stream_{method}"] = dumped(forest, compress=(method, 3))
    files["stream_gzip_value"] = dumped({"m": fitted["scaler"], "a": np.arange(4.0)},
                                        compress="gzip")
    files["envelope_zstd_value"] = dumped({"m": fitted["scaler"], "a": np.arange(4.0)},
                                          compress=3)
    files["envelope_aes"] = dumped(forest, encryption_key=_common.AES_KEY)
    files["envelope_aes_zstd"] = dumped(forest, encryption_key=_common.AES_KEY, compress=3)
    files["envelope_aes_value"] = dumped([fitted["scaler"]], encryption_key=_common.AES_KEY)
    for mode in ("fp16", "int8"):
        files[f"quantized_{mode}_linear"] = dumped(fitted["ridge"], quantize=mode)
        files[f"quantized_{mode}_forest"] = dumped(forest, quantize=mode, compress=3)
    files["signed_plain"] = dumped(fitted["logistic"], sign_with=key)
    files["signed_value"] = dumped({"m": fitted["scaler"]}, sign_with=key)
    files["signed_zstd"] = dumped(forest, compress=3, sign_with=key)
    files["signed_aes"] = dumped(forest, encryption_key=_common.AES_KEY, sign_with=key)
    files["value_pickled_arrays"] = dumped(
        {"ns": types.SimpleNamespace(a=np.arange(6.0), b=np.ones((2, 2), ">i4"))},
        allow_pickle=True)
    # a Pipeline stored in parts (format 1.8, FORMAT.md 17.6): native runs, a pickled step
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    Xi, yi = load_iris(return_X_y=True)
    files["value_chain"] = dumped(make_pipeline(
        StandardScaler(), FunctionTransformer(np.rint), LogisticRegression(max_iter=500)).fit(
        Xi, yi), allow_pickle=True)
    from fuzz_values import value_file

    refs = reference_trees()
    for name, tree in refs.items():
        files[f"value_{name}"] = value_file(tree)
    for name, data in files.items():
        with open(os.path.join(load_dir, name + ".mle"), "wb") as f:
            f.write(data)
        if name.startswith(("value_", "signed_value")):
            with open(os.path.join(values_dir, name), "wb") as f:
                f.write(value_input(data))
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="where to write load/ and values/")
    args = parser.parse_args(argv)
    files = write_corpus(args.out_dir)
    sizes = sorted(len(d) for d in files.values())
    print(f"{len(files)} seed files in {args.out_dir}/load ({sizes[0]}..{sizes[-1]} bytes), "
          f"{len(os.listdir(os.path.join(args.out_dir, 'values')))} in "
          f"{args.out_dir}/values")


if __name__ == "__main__":
    main()
