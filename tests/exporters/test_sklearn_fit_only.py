"""Estimators that predict nothing (clusterers and embeddings whose results are fitted
attributes): stored with their parameters and fitted arrays, which the loaded model offers
read-only and equal to scikit-learn's; prediction methods they lack raise AttributeError, and
fitting (fit, fit_predict, fit_transform) raises ReadOnlyModelError."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.cluster import (
    DBSCAN,
    HDBSCAN,
    OPTICS,
    AgglomerativeClustering,
    SpectralBiclustering,
    SpectralClustering,
    SpectralCoclustering,
)
from sklearn.manifold import MDS, TSNE, ClassicalMDS, SpectralEmbedding
from sklearn.neighbors import LocalOutlierFactor

import mle_runtime as mle
from mle_runtime.exporters.sklearn.fit_only import ATTRIBUTES

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
           "score_samples", "fit_predict", "fit_transform")

CASES = {
    "DBSCAN": lambda: DBSCAN(eps=0.6),
    "HDBSCAN": lambda: HDBSCAN(min_cluster_size=5, store_centers="both"),
    "OPTICS": lambda: OPTICS(min_samples=5),
    "AgglomerativeClustering": lambda: AgglomerativeClustering(n_clusters=3,
                                                               compute_distances=True),
    "SpectralClustering": lambda: SpectralClustering(n_clusters=3, random_state=0),
    "SpectralBiclustering": lambda: SpectralBiclustering(n_clusters=2, random_state=0),
    "SpectralCoclustering": lambda: SpectralCoclustering(n_clusters=2, random_state=0),
    "SpectralEmbedding": lambda: SpectralEmbedding(n_components=2, random_state=0),
    "TSNE": lambda: TSNE(n_components=2, perplexity=10, max_iter=250, random_state=0),
    "MDS": lambda: MDS(n_components=2, max_iter=50, n_init=1, random_state=0),
    "ClassicalMDS": lambda: ClassicalMDS(n_components=3),
}


def same_value(a, b, what):
    if hasattr(a, "tocsr"):  # a sparse matrix is described by its repr, not stored
        assert type(b).__name__ == "UnstoredValue", what
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), what
        assert a.dtype == b.dtype and a.shape == b.shape, (what, a.dtype, b.dtype)
        np.testing.assert_array_equal(a, b, err_msg=what)
        assert not b.flags.writeable, f"{what} is writeable"
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), what
        for x, y in zip(a, b):
            same_value(x, y, what)
    else:
        assert a == b or (a != a and b != b), (what, a, b)


@pytest.mark.parametrize("name", list(CASES))
def test_fit_only(name, dataset, roundtrip, tmp_path):
    X, _ = dataset("iris")
    if name.startswith("SpectralB") or name.startswith("SpectralCo"):
        X = X + 1.0  # positive data for the biclusterers
    model = CASES[name]().fit(X)
    proxy = roundtrip(model)
    for attr in ATTRIBUTES[name]:
        if hasattr(model, attr):
            same_value(getattr(model, attr), getattr(proxy, attr), f"{name}.{attr}")
    assert proxy.get_params().keys() == model.get_params().keys()
    assert repr(proxy) == repr(model)
    for method in METHODS:
        assert hasattr(proxy, method) == hasattr(model, method), method
        if not hasattr(model, method):
            with pytest.raises(AttributeError):
                getattr(proxy, method)
        elif method.startswith("fit"):
            with pytest.raises(mle.ReadOnlyModelError, match="read-only"):
                getattr(proxy, method)(X)
    with pytest.raises(mle.ReadOnlyModelError):
        proxy.fit(X)
    with pytest.raises(AttributeError, match="Stored fitted attributes"):
        proxy.not_an_attribute_
    assert proxy.metadata["model_class"].endswith(name)
    assert proxy.get_model_info()["outputs"] == []
    mle.dump(model, tmp_path / "again.mle")
    assert mle.inspect_model(tmp_path / "again.mle")["format_version"] == "1.6"


def test_local_outlier_factor_without_novelty(dataset, roundtrip):
    # only fit_predict (on its training data) and kneighbors; predict, decision_function and
    # score_samples are novelty=True's (test_sklearn_neighbors)
    X, _ = dataset("iris")
    Q = X[::7] + 0.05
    for kwargs in ({}, {"n_neighbors": 5, "algorithm": "kd_tree", "metric": "manhattan"},
                   {"contamination": 0.1, "algorithm": "ball_tree"}, {"n_neighbors": 400}):
        model = LocalOutlierFactor(**kwargs).fit(X)
        proxy = roundtrip(model)
        for attr in ("negative_outlier_factor_", "offset_", "n_neighbors_", "n_samples_fit_",
                     "effective_metric_"):
            same_value(getattr(model, attr), getattr(proxy, attr), attr)
        for method in ("predict", "decision_function", "score_samples", "fit_transform"):
            with pytest.raises(AttributeError):
                getattr(proxy, method)
        with pytest.raises(mle.ReadOnlyModelError, match="read-only"):
            proxy.fit_predict(X)
        if model.n_neighbors > len(X):  # scikit-learn's kneighbors raises: not stored
            assert not hasattr(proxy, "kneighbors")
            continue
        for rows in (Q, Q[:1]):
            for got, exp in zip(proxy.kneighbors(rows), model.kneighbors(rows)):
                assert got.dtype == exp.dtype
                np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-14)


def test_fit_only_in_a_pipeline_is_refused(dataset, tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = dataset("iris")
    with pytest.raises(mle.UnsupportedModelError, match="pipeline step"):
        mle.dump(make_pipeline(StandardScaler(), DBSCAN()).fit(X), tmp_path / "m.mle")


def test_files_before_1_6_need_an_output():
    from mle_runtime import _native
    from mle_runtime.format import layout as L
    from mle_runtime.format import writer

    graph = {"name": "m", "n_features": 2, "tensors": [], "nodes": [], "outputs": []}
    payloads = [(L.SECTION_META, writer.encode_json({})),
                (L.SECTION_GRAPH, writer.encode_json(graph))]
    assert _native.load_buffer(writer.pack_sections(payloads, minor=6)).outputs == {}
    for minor in (3, 4, 5):
        with pytest.raises(mle.FormatError, match="'outputs' must be a list of 1 to"):
            _native.load_buffer(writer.pack_sections(payloads, minor=minor))


SCRIPT = r"""
import json, sys
import mle_runtime as mle
m = mle.load(sys.argv[1])
out = {"labels": m.labels_.tolist(), "params": sorted(m.get_params())}
out["imported"] = sorted({k.split(".")[0] for k in sys.modules} & {"sklearn", "scipy", "pandas"})
print(json.dumps(out))
"""


def test_loading_imports_no_framework(dataset, tmp_path):
    import json

    X, _ = dataset("iris")
    model = DBSCAN(eps=0.6).fit(X)
    path = tmp_path / "m.mle"
    mle.dump(model, path)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["imported"] == []
    assert out["labels"] == model.labels_.tolist()
