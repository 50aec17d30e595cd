"""Label transformers and DictVectorizer: inputs that are not matrices of numbers.

What runs where: the input adapter (``runtime/inputs.py``, ``LabelInputs``, the input rules
"target", "sets" and "dicts" of docs/FORMAT.md 9.7) turns labels, label sets and dicts into
numbers in one pass in Python (a label's position in its label set, an indicator row, the
named features' values); the graph does the rest natively (one-hot columns, neg/pos labels,
thresholds, class indices mapped back to labels by the output's label set).

- ``LabelEncoder``: transform (labels cast to ``classes_``'s dtype first, unseen labels refused
  with scikit-learn's message) and inverse_transform (op ``LabelIndex``).
- ``LabelBinarizer``: transform and inverse_transform (threshold None) of binary, multiclass
  and multilabel-indicator targets with any neg_label/pos_label; sparse_output returns the
  same values dense.
- ``MultiLabelBinarizer``: transform (unknown labels ignored with scikit-learn's warning),
  inverse_transform (a list of label tuples).
- ``DictVectorizer``: transform (dtype float64; sparse=True returns the values dense), alone
  or as the first step of a Pipeline; inverse_transform (a list of dicts, also through a
  Pipeline's inverse).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import header
from mle_runtime.exporters.classes import label_set
from mle_runtime.exporters.sklearn.common import register
from mle_runtime.exporters.sklearn.inverse import inverse
from mle_runtime.ir.graph import Graph

LABEL_CLASSES = ("LabelEncoder", "LabelBinarizer", "MultiLabelBinarizer")


def _standalone(est, ctx, x):
    raise UnsupportedModelError(f"{type(est).__name__} transforms targets (y), not X: it is "
                                "supported as a model of its own, not as a pipeline step")


register(*LABEL_CLASSES, kind="predictor")(_standalone)


def _classes(est, what):
    classes = np.asarray(est.classes_)
    if classes.ndim != 1 or classes.size == 0:
        raise UnsupportedModelError(f"{what}.classes_ must be a non-empty 1-D array")
    if classes.dtype.kind == "f" and np.any(np.abs(classes) > 2.0 ** 53):
        raise UnsupportedModelError(f"{what}: float labels beyond 2**53 are not supported")
    if classes.dtype.kind in "iu" and np.any(np.abs(classes.astype(np.float64)) > 2.0 ** 53):
        raise UnsupportedModelError(f"{what}: integer labels beyond 2**53 are not supported")
    return classes


def _vec(g, v):
    return g.tensor(np.asarray(v, dtype=np.float64), "float64")


def _label_encoder(est, g):
    classes = _classes(est, "LabelEncoder")
    k = label_set(g, classes)
    g.inputs["target"] = [k, "error"]
    g.inputs["vector"] = True  # inverse_transform takes 1-D y too
    g.output("transform", "X", True, dtype="int64")
    # LabelIndex refuses NaN, infinity and anything but 0 .. n-1 with scikit-learn's message
    g.inverse = {"n_features": 1, "allow_nan": True, "allow_inf": True}
    g.output("inverse_transform", g.add("LabelIndex", ["Y"], n_classes=len(classes)), True,
             labels=k)


def _label_binarizer(est, g):
    what = "LabelBinarizer"
    classes = _classes(est, what)
    n = len(classes)
    pos, neg = est.pos_label, est.neg_label
    for v in (pos, neg):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or abs(int(v)) > 2 ** 53:
            raise UnsupportedModelError(f"{what}: neg_label/pos_label must be integers")
    pos, neg = int(pos), int(neg)
    threshold = (pos + neg) / 2.0
    y_type = est.y_type_
    if y_type in ("binary", "multiclass"):
        if n < 2:
            raise UnsupportedModelError(f"{what} fitted on a single class is not supported")
        k = label_set(g, classes)
        g.inputs["target"] = [k, "ignore"]  # unseen labels: all neg_label, as scikit-learn
        g.inputs["vector"] = True
        binary = y_type == "binary"

        def binarized(binary):
            width = 1 if binary else n
            cols = np.array([-1, 0] if binary else np.arange(n), dtype=np.int64)
            hot = g.add("OneHot", ["X"], offsets=g.tensor(np.array([0, n], np.int64), "int64"),
                        categories=_vec(g, np.arange(n)), columns=g.tensor(cols, "int64"),
                        unknown=g.tensor(np.array([-1], np.int64), "int64"),
                        width=g.tensor(np.array([width], np.int64), "int64"))
            return g.add("MulAdd", [hot], mul=_vec(g, [pos - neg] * width),
                         add=_vec(g, [neg] * width))

        g.output("transform", binarized(binary), False, dtype="int64")
        if binary:  # y with more than two labels is multiclass: one column per class
            g.output("transform_multiclass", binarized(False), False, dtype="int64")
            g.inputs["target"].append("transform_multiclass")
        if binary:  # classes_[(Y > threshold)]
            g.inverse = {"n_features": 1, "allow_nan": True, "allow_inf": True}
            idx = g.add("LabelIndex", [g.add("Binarize", ["Y"], threshold=threshold)],
                        n_classes=2)
        else:  # classes_[Y.argmax(axis=1)] (NaN refused: numpy's argmax picks it)
            g.inverse = {"n_features": n, "allow_inf": True}
            idx = g.add("ArgMax", ["Y"])
        g.output("inverse_transform", idx, True, labels=k)
    elif y_type == "multilabel-indicator":
        if g.n_features != n:
            raise UnsupportedModelError(f"{what}: {n} classes but {g.n_features} columns")
        # nonzero entries (the indicator's ones) become pos_label, the others neg_label
        hot = g.add("Binarize", ["X"], threshold=0.0)
        out = g.add("MulAdd", [hot], mul=_vec(g, [pos - neg] * n), add=_vec(g, [neg] * n))
        g.output("transform", out, False, dtype="int64")
        g.inverse = {"n_features": n, "allow_nan": True, "allow_inf": True}
        g.output("inverse_transform", g.add("Binarize", ["Y"], threshold=threshold), False,
                 dtype="int64")
    else:
        raise UnsupportedModelError(f"{what} fitted on a {y_type!r} target is not supported")


def _multilabel_binarizer(est, g):
    classes = _classes(est, "MultiLabelBinarizer")
    g.inputs["sets"] = label_set(g, classes)
    g.output("transform", "X", False, dtype="int64")
    # the indicator rows back to label tuples, by the proxy (the rule "sets"); it lists the
    # values other than 0 and 1 (NaN too) as scikit-learn does
    g.inverse = {"n_features": len(classes), "allow_nan": True, "allow_inf": True}
    g.output("inverse_transform", "Y")


def export_labels(model):
    """(Graph, metadata) of a LabelEncoder, LabelBinarizer or MultiLabelBinarizer."""
    import sklearn
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    name = type(model).__name__
    n = 1
    if name == "MultiLabelBinarizer" or (name == "LabelBinarizer" and
                                         model.y_type_ == "multilabel-indicator"):
        n = len(model.classes_)
    g = Graph(name, n)
    {"LabelEncoder": _label_encoder, "LabelBinarizer": _label_binarizer,
     "MultiLabelBinarizer": _multilabel_binarizer}[name](model, g)
    g.estimator_type = "transformer"
    return g, header("sklearn", sklearn.__version__, name)


@register("DictVectorizer", kind="transformer")
def dict_vectorizer(est, ctx, x):
    """The dicts become the named features' values in the input adapter (the input rule
    "dicts"); the graph starts from them."""
    if x != "X" or ctx.steps != ["DictVectorizer"]:
        raise UnsupportedModelError("DictVectorizer is supported as a model of its own or as "
                                    "the first step of a Pipeline (its input is dicts)")
    if np.dtype(est.dtype) != np.float64:
        raise UnsupportedModelError(f"DictVectorizer(dtype={np.dtype(est.dtype).name}) is not "
                                    "supported; supported: dtype=float64 (the default)")
    names = list(est.feature_names_)
    if not names or not all(isinstance(n, str) for n in names):
        raise UnsupportedModelError("DictVectorizer: feature names other than strings (keys "
                                    "that are not strings) are not supported")
    if len(est.separator) > 64:
        raise UnsupportedModelError("DictVectorizer: a separator longer than 64 characters is "
                                    "not supported")
    ctx.graph.inputs["dicts"] = [names, str(est.separator)]
    return x


@inverse("DictVectorizer")
def dict_vectorizer_inverse(est, g, y):
    """The identity on finite numbers (check_array); the proxy makes the dicts (rule "dicts")."""
    return y, True
