"""inverse_transform: the graph's second input Y (docs/FORMAT.md, 9.8) and the steps that map it
back to the input space.

An estimator (or a Pipeline of them) whose ``inverse_transform`` scikit-learn offers gets a
graph output ``inverse_transform`` computed from Y alone, when every step has an inverse here
(``INVERSES``, filled by ``inverse(...)``: ``fn(est, graph, y) -> (value, finite)``, ``finite`` when
scikit-learn's inverse_transform refuses NaN and infinity, as ``check_array`` does by default).
A Pipeline's inverse runs its steps' inverses in reverse order. An estimator with an
inverse_transform that is not here keeps its other methods; the loaded model then has no
inverse_transform (AttributeError), never a wrong one.
"""

import numpy as np

from mle_runtime.exporters.sklearn.common import active_leaves, as_float64
from mle_runtime.exporters.sklearn.distribution import numpy_function

INVERSES = {}  # scikit-learn class name -> fn(est, graph, y) -> (value, finite) or None


def inverse(*names):
    """Registers the inverse_transform of scikit-learn classes with these names."""
    def deco(fn):
        for n in names:
            INVERSES[n] = fn
        return fn

    return deco


def _vec(g, v):
    return None if v is None else g.tensor(np.asarray(v, dtype=np.float64), "float64")


@inverse("StandardScaler")
def standard_scaler(est, g, y):
    # X *= scale_.astype(X.dtype); X += mean_.astype(X.dtype)
    scale = as_float64(est.scale_, "StandardScaler.scale_") if est.with_std else None
    mean = as_float64(est.mean_, "StandardScaler.mean_") if est.with_mean else None
    if scale is None and mean is None:
        return y, False
    return g.add("MulAdd", [y], mul=_vec(g, scale), add=_vec(g, mean), cast_params=True), False


@inverse("RobustScaler")
def robust_scaler(est, g, y):
    # X *= scale_; X += center_
    scale = as_float64(est.scale_, "RobustScaler.scale_") if est.with_scaling else None
    center = as_float64(est.center_, "RobustScaler.center_") if est.with_centering else None
    if scale is None and center is None:
        return y, False
    return g.add("MulAdd", [y], mul=_vec(g, scale), add=_vec(g, center)), False


@inverse("MaxAbsScaler")
def max_abs_scaler(est, g, y):
    return g.add("MulAdd", [y], mul=_vec(g, as_float64(est.scale_, "MaxAbsScaler.scale_"))), \
        False


@inverse("MinMaxScaler")
def min_max_scaler(est, g, y):
    # X -= min_; X /= scale_ (no clip)
    return g.add("SubDiv", [y], sub=_vec(g, as_float64(est.min_, "MinMaxScaler.min_")),
                 div=_vec(g, as_float64(est.scale_, "MinMaxScaler.scale_"))), False


@inverse("FunctionTransformer")
def function_transformer(est, g, y):
    # inverse_func applied as given (None: the identity), after check_array when validate
    fn = est.inverse_func
    if fn is None:
        return y, bool(est.validate)
    name = numpy_function(fn)
    if name is None or est.inv_kw_args:
        return None
    return g.add("MathFn", [y], fn=name), bool(est.validate)


def _product(g, y, weight, bias=None):
    return g.add("Dense", [y], weight=g.tensor(np.ascontiguousarray(weight, dtype=np.float64),
                                               "float64"), bias=_vec(g, bias))


@inverse("PCA", "IncrementalPCA")
def pca(est, g, y):
    # X @ components_ + mean_, with sqrt(explained_variance_) scaling when whitened
    comp = np.asarray(est.components_, dtype=np.float64)
    if est.whiten:
        comp = np.sqrt(np.asarray(est.explained_variance_, dtype=np.float64)[:, np.newaxis]) * comp
    return _product(g, y, comp, np.asarray(est.mean_, dtype=np.float64)), True


@inverse("TruncatedSVD")
def truncated_svd(est, g, y):
    return _product(g, y, est.components_), True


@inverse("GaussianRandomProjection", "SparseRandomProjection")
def random_projection(est, g, y):
    if getattr(est, "compute_inverse_components", False):
        inv = est.inverse_components_
    else:  # what scikit-learn computes on each call, from the same components
        inv = est._compute_inverse_components()
    if hasattr(inv, "toarray"):
        inv = inv.toarray()
    return _product(g, y, np.asarray(inv, dtype=np.float64).T), True


SELECTORS = ("GenericUnivariateSelect", "RFE", "RFECV", "SelectFdr", "SelectFpr",
             "SelectFromModel", "SelectFwe", "SelectKBest", "SelectPercentile",
             "SequentialFeatureSelector", "VarianceThreshold")


@inverse(*SELECTORS)
def selector(est, g, y):
    """Zeros in the removed columns, the kept ones in place (Xt[:, support] = X)."""
    support = np.asarray(est.get_support(), dtype=bool)
    kept = np.flatnonzero(support)
    dropped = np.flatnonzero(~support)
    if dropped.size == 0:
        return y, True
    if kept.size == 0:
        return None
    # zeros of Y's float type (Y is finite here: scikit-learn refuses NaN and infinity)
    zeros = g.add("MulAdd", [g.add("Columns", [y], columns=g.tensor(
        np.zeros(dropped.size, dtype=np.int64), "int64"))],
        mul=_vec(g, np.zeros(dropped.size)), add=_vec(g, np.zeros(dropped.size)))
    both = g.add("Concat", [y, zeros])
    # column j of the result: position of j among kept (0..k-1) or among dropped (k..)
    where = np.empty(support.size, dtype=np.int64)
    where[kept] = np.arange(kept.size)
    where[dropped] = kept.size + np.arange(dropped.size)
    return g.add("Columns", [both], columns=g.tensor(where, "int64")), True


def _width_out(est, n_in):
    """The number of columns est.transform returns (Y's width)."""
    name = type(est).__name__
    if name in SELECTORS:
        return int(np.asarray(est.get_support()).sum())
    if name in ("SparseCoder", "DictionaryLearning", "MiniBatchDictionaryLearning"):
        # a cycle: sparse_coding registers its inverses with this module's decorator
        from mle_runtime.exporters.sklearn.sparse_coding import width_out
        return width_out(est)  # split_sign doubles the columns
    n = getattr(est, "_n_features_out", None)
    if n is not None:
        return int(n)
    return int(getattr(est, "n_features_in_", n_in))


def add_inverse(model, graph):
    """Adds Y and the output ``inverse_transform`` when scikit-learn's model has one and every
    step's inverse is stored; otherwise leaves the graph as it is."""
    if not hasattr(model, "inverse_transform"):  # available_if: every step has one
        return
    steps = list(active_leaves(model))
    if not steps:
        return
    fns = []
    for est in steps:
        fn = INVERSES.get(type(est).__name__)
        if fn is None or type(est).__module__.split(".")[0] != "sklearn":
            return
        fns.append(fn)
    width = graph.n_features
    for est in steps:
        width = _width_out(est, width)
    nodes, tensors = len(graph.nodes), len(graph.tensors)
    graph.inverse = {"n_features": width}
    y, finite = "Y", False
    for est, fn in zip(reversed(steps), reversed(fns)):
        res = fn(est, graph, y)
        if res is None:  # not stored after all: undo what this inverse added
            del graph.nodes[nodes:], graph.tensors[tensors:]
            graph.inverse = None
            return
        y, step_finite = res
        finite = finite or step_finite
    if not finite:
        graph.inverse.update(allow_nan=True, allow_inf=True)
    graph.output("inverse_transform", y)
