"""scikit-learn exporters. Importing this package imports scikit-learn (dump time only)."""

import numpy as np

from mle_runtime.errors import UnsupportedModelError

from mle_runtime.exporters.sklearn import (  # noqa: F401  (registers the exporters)
    linear, multiclass, pipeline, preprocessing, trees)
# Estimators on the dense kernels (matrix products, distances).
from mle_runtime.exporters.sklearn import (  # noqa: F401,E402  (registers the exporters)
    cluster, decomposition, kernel_approximation, neural_network)
from mle_runtime.exporters.sklearn import (  # noqa: F401  (registers the exporters)
    discriminant_analysis, dummy, fit_only, glm, isotonic, naive_bayes)
from mle_runtime.exporters.sklearn import compose, encoders  # noqa: F401,E402  (column routing, encoders)
from mle_runtime.exporters.sklearn import (  # noqa: F401  (meta-estimators, selectors)
    meta, selection)
from mle_runtime.exporters.sklearn import svm  # noqa: F401,E402  (support vector machines)
from mle_runtime.exporters.sklearn import (  # noqa: F401,E402  (kernel ridge, label propagation)
    kernel_ridge, label_propagation)
from mle_runtime.exporters.sklearn import impute  # noqa: F401,E402  (TargetEncoder, imputers)
from mle_runtime.exporters.sklearn import knn_impute  # noqa: F401,E402  (KNNImputer)
from mle_runtime.exporters.sklearn import neighbors  # noqa: F401,E402  (nearest neighbours)
from mle_runtime.exporters.sklearn import expand  # noqa: F401,E402  (bins, polynomials, splines)
from mle_runtime.exporters.sklearn import distribution  # noqa: F401,E402  (quantile, power)
from mle_runtime.exporters.sklearn import (  # noqa: F401,E402  (covariance, PLS, ICA, ...)
    covariance, cross_decomposition, latent)
from mle_runtime.exporters.sklearn.labels import (  # label transformers, DictVectorizer
    LABEL_CLASSES, export_labels)
from mle_runtime.exporters.sklearn import (  # noqa: F401,E402  (centres, mixtures, feature maps)
    centroids, feature_maps, mixture)
from mle_runtime.exporters.sklearn import text  # noqa: E402  (text vectorizers)
from mle_runtime.exporters.sklearn import factorization  # noqa: F401,E402  (NMF, LDA)
from mle_runtime.exporters.sklearn import hashing  # noqa: F401,E402  (hashing, chi2, sketches)
from mle_runtime.exporters.sklearn import density  # noqa: F401,E402  (KernelDensity)
from mle_runtime.exporters.sklearn import gaussian_process  # noqa: F401,E402  (GPs)
from mle_runtime.exporters.sklearn import manifold  # noqa: F401,E402  (Isomap, LLE)
from mle_runtime.exporters.sklearn import sparse_coding  # noqa: F401,E402  (dictionaries)
from mle_runtime.exporters.sklearn.inverse import add_inverse  # inverse_transform (input Y)
from mle_runtime.exporters.base import apply_head, header
from mle_runtime.exporters.sklearn.attributes import ATTRIBUTES  # noqa: F401  (the registry reads it)
from mle_runtime.exporters.sklearn.meta import refuse_search_without_refit
from mle_runtime.exporters.sklearn.common import (REGISTRY, Context, active_leaves,
                                                  export_estimator, lookup)
from mle_runtime.ir.graph import Graph
from mle_runtime.errors import UnsupportedModelError


def supported():
    """Names of the supported scikit-learn classes."""
    return sorted(REGISTRY)


def _first_step(est):
    while type(est).__name__ == "Pipeline":
        active = [s for _, s in est.steps if s is not None and s != "passthrough"]
        if not active:
            return est
        est = active[0]
    return est


def _integer_input_rule(model, head):
    """How scikit-learn treats integer (and bool) input, when that differs from "convert it to
    float64", or None.

    Every supported step converts int input to float64, except SimpleImputer with
    strategy="most_frequent" or "constant": it keeps int input as int (so a model made only of
    such imputers returns ints from transform), refuses it when the fill value is a float
    (``np.can_cast(fill_dtype, X.dtype, "same_kind")`` is False) and refuses bool input. That
    only matters for the imputers that see the caller's data, before any converting step.
    """
    leaves = list(active_leaves(model))
    lead = []
    for est in leaves:
        if type(est).__name__ != "SimpleImputer" or est.strategy not in ("most_frequent",
                                                                          "constant"):
            break
        lead.append(est)
    if not lead:
        return None
    rule = {"keep": len(lead) == len(leaves) and "transform" in head.outputs,
            "fill_dtypes": sorted({np.dtype(e._fill_dtype).name for e in lead
                                   if e.strategy == "constant"})}
    return rule


def _output_container(est):
    """What est.transform returns as scikit-learn's set_output configured it: "pandas",
    "polars" or None (arrays). A Pipeline returns what its last step returns."""
    from sklearn.utils._set_output import _get_output_config

    while type(est).__name__ == "Pipeline" and "transform" not in \
            getattr(est, "_sklearn_output_config", {}):
        active = [s for _, s in est.steps if s is not None and s != "passthrough"]
        if not active:
            return None
        est = active[-1]
    container = _get_output_config("transform", est)["dense"]
    return container if container in ("pandas", "polars") else None


def _name_transform_columns(model, graph):
    """The transform output's column names (get_feature_names_out) and output container
    (set_output), when scikit-learn's model has them."""
    out = next((o for o in graph.outputs if o["name"] == "transform"), None)
    if out is None or out["ravel"] or set(out["opts"]) - {"dtype"} or \
            not hasattr(model, "get_feature_names_out") or \
            getattr(graph, "names_differ", False):  # names that do not match transform
        return
    last = list(active_leaves(model))[-1:]
    if last and getattr(last[0], "split_sign", False) is True:
        return  # a sparse coder's split_sign doubles its columns, not its names
    try:
        names = [str(n) for n in model.get_feature_names_out()]
    except Exception:  # noqa: BLE001  (estimators whose names scikit-learn cannot compute)
        return
    out["opts"]["columns"] = names
    container = _output_container(model)
    if container is not None:
        out["opts"]["container"] = container


def _all_missing_rule(ctx, graph, head):
    """The input rule "all_missing" (docs/FORMAT.md 9.7) of a step whose result depends on the
    whole batch: each method returning that step's value gets an alternative output, run when
    every entry of the rule's input columns is missing in the batch."""
    if not ctx.all_missing:
        return
    if len(ctx.all_missing) > 1:
        raise UnsupportedModelError("more than one step whose result depends on the whole "
                                    "batch is not supported")
    value, alt, cols, marker, owner, later = ctx.all_missing[0]
    pairs = []
    for name, (v, ravel) in head.outputs.items():
        v_alt = alt if v == value else later.get(v)
        if v_alt is None:
            raise UnsupportedModelError(
                f"{owner} inside a ColumnTransformer, FeatureUnion or nested Pipeline is not "
                "supported: its transform returns the initial imputation when every entry of "
                "the batch is missing, which the steps after it would get instead; use it as "
                "the model or as a step of a (flat) Pipeline")
        graph.output(name + "@all_missing", v_alt, ravel)
        pairs.append([name, name + "@all_missing"])
    graph.inputs["all_missing"] = [cols, marker, pairs]


def export(model):
    """Returns (Graph, metadata dict) for a fitted scikit-learn estimator or pipeline."""
    import sklearn
    from sklearn.utils.validation import check_is_fitted

    lookup(model)  # unsupported classes fail before anything else
    if type(model).__name__ in LABEL_CLASSES:  # y, not X: no n_features_in_
        return export_labels(model)
    check_is_fitted(model)
    refuse_search_without_refit(model)  # before n_features_in_, which it lacks
    # A Pipeline delegates n_features_in_ and feature_names_in_ to its first step, which
    # raises AttributeError when that step is 'passthrough'; the first active step knows them.
    first = _first_step(model)
    if first is not model:
        try:
            lookup(first)  # a first step of an unsupported class: refused as such
        except UnsupportedModelError as e:
            e.part, e.reason = first, str(e)
            raise
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        n_features = getattr(first, "n_features_in_", None)
    if n_features is None and type(first).__name__ == "IsotonicRegression":
        n_features = 1  # fitted on one feature, 1-D or one column; it has no n_features_in_
    if n_features is None and type(first).__name__ == "DictVectorizer":
        n_features = len(first.feature_names_)  # dicts in, these columns out
    if n_features is None and type(first).__name__ == "FeatureHasher":
        n_features = int(first.n_features)  # samples in, hashed into these columns
    if n_features is None and type(first).__name__ == "SparseCoder":
        n_features = np.shape(first.dictionary)[1]  # stateless: transform needs no fit
    if type(first).__name__ in text.VECTORIZERS:
        n_features = 1  # one document per row (the input rule "text": token ids of any width)
    elif n_features is None:
        text.refuse_later_vectorizer(active_leaves(model))
    if n_features is None:
        raise ValueError(f"{type(model).__name__} has no n_features_in_; is it fitted?")
    graph = Graph(type(first).__name__, n_features)
    ctx = Context(graph)
    head = export_estimator(model, ctx, "X")
    text.fuse(graph, [v for v, _ in head.outputs.values()])  # vectorizer + linear model
    ctx.finish([v for v, _ in head.outputs.values()])
    graph.allow_nan = ctx.nan_owner is None
    refused = ctx.nan_refused
    if ctx.nan_owner is not None and refused is not None and len(refused) < n_features:
        # NaN is refused in these columns only (the others' NaN is imputed, encoded or
        # dropped before the refusing step): checked on the input, by the input rule "nan".
        graph.allow_nan = True
        graph.inputs["nan"] = [sorted(int(c) for c in refused), ctx.nan_owner]
    graph.allow_inf = ctx.all_accept_inf and bool(ctx.steps)
    graph.nan_owner = ctx.nan_owner
    apply_head(graph, head)
    _all_missing_rule(ctx, graph, head)
    _name_transform_columns(model, graph)
    add_inverse(model, graph)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = getattr(first, "feature_names_in_", None)
    if names is not None:
        graph.inputs["feature_names"] = [str(n) for n in np.asarray(names)]
    integer_rule = _integer_input_rule(model, head)
    if integer_rule is not None:
        graph.inputs["integer"] = integer_rule
    cls = type(model)
    summary = (f"Pipeline({', '.join(ctx.steps)})" if cls.__name__ == "Pipeline"
               else cls.__name__)
    # Keys with no value are left out (readers treat a missing key as None): tiny models stay
    # smaller than their joblib files.
    meta = header("sklearn", sklearn.__version__, cls.__name__)
    if summary != cls.__name__:
        meta["summary"] = summary
    if head.meta:
        meta.update(head.meta)
    return graph, meta
