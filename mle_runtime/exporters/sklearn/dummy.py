"""Dummy estimators (sklearn.dummy): DummyClassifier with the strategies "most_frequent",
"prior" and "constant", DummyRegressor with every strategy ("mean", "median", "quantile",
"constant"), single- and multi-output.

Their predictions do not depend on X (scikit-learn never reads its values, so NaN and infinity
are accepted): the graph holds the predicted rows as a ``Constant``. The rows are what the
fitted estimator itself returns for one row, so they are scikit-learn's own numbers.
DummyClassifier's "stratified" and "uniform" strategies draw random labels at every call and
are refused.
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import register

_CLASSIFIER_STRATEGIES = ("most_frequent", "prior", "constant")
_OUTPUT_DTYPES = ("float32", "float64", "int32", "int64")


def _one_row(est):
    n = getattr(est, "n_features_in_", None)
    return np.zeros((1, int(n) if n is not None else 1))


@register("DummyClassifier", kind="predictor")
def dummy_classifier(est, ctx, x):
    strategy = getattr(est, "_strategy", est.strategy)
    if strategy not in _CLASSIFIER_STRATEGIES:
        raise UnsupportedModelError(
            f"DummyClassifier(strategy={strategy!r}) is not supported: it draws random "
            f"predictions at every call, which a stored model cannot reproduce; supported "
            f"strategies: {', '.join(map(repr, _CLASSIFIER_STRATEGIES))}")
    if getattr(est, "sparse_output_", False):
        raise UnsupportedModelError("DummyClassifier with a sparse (multilabel) target is not "
                                    "supported; fit it on a dense target")
    ctx.accepts_inf = True
    g = ctx.graph
    row = _one_row(est)
    proba = est.predict_proba(row)
    multi = est.n_outputs_ > 1
    blocks = [np.asarray(p, dtype=np.float64)[0] for p in (proba if multi else [proba])]
    classes = [np.asarray(c) for c in (est.classes_ if multi else [est.classes_])]
    values = g.add("Constant", [x], values=g.tensor(np.concatenate(blocks), "float64"))
    widths = [len(b) for b in blocks]
    predict = g.add("SegmentArgMax", [values], segments=g.tensor(np.array(widths), "int64"))
    expected = np.asarray(est.predict(row))
    dtypes = {}
    label_dtype = classes[0].dtype
    if any(c.dtype != label_dtype for c in classes):
        raise UnsupportedModelError("multi-output DummyClassifier whose outputs have classes of "
                                    "different dtypes is not supported")
    if expected.dtype != label_dtype and expected.dtype.kind in "iuf":
        if expected.dtype.name not in _OUTPUT_DTYPES:
            raise UnsupportedModelError(f"DummyClassifier predicts dtype {expected.dtype}; "
                                        f"supported: {', '.join(_OUTPUT_DTYPES)}")
        dtypes["predict"] = expected.dtype.name
    outputs = {"predict": (predict, not multi), "predict_proba": (values, False),
               "predict_log_proba": (g.add("Log", [values]), False)}
    splits = {"predict_proba": widths, "predict_log_proba": widths} if multi else None
    return Head(outputs, "classifier", classes if multi else classes[0], splits=splits,
                dtypes=dtypes)


@register("DummyRegressor", kind="predictor")
def dummy_regressor(est, ctx, x):
    ctx.accepts_inf = True
    g = ctx.graph
    expected = np.asarray(est.predict(_one_row(est)))
    if expected.dtype.name not in _OUTPUT_DTYPES:
        raise UnsupportedModelError(f"DummyRegressor predicts dtype {expected.dtype}; "
                                    f"supported: {', '.join(_OUTPUT_DTYPES)}")
    row = expected.reshape(-1)
    try:
        tensor = g.tensor(row.astype(np.float64), "float64")
        if not np.array_equal(row.astype(np.float64).astype(row.dtype), row):
            raise ValueError
    except ValueError:
        raise UnsupportedModelError(f"DummyRegressor.constant_ {row!r} is not exact in "
                                    "float64") from None
    values = g.add("Constant", [x], values=tensor)
    dtypes = {"predict": expected.dtype.name} if expected.dtype != np.float64 else None
    return Head({"predict": (values, expected.ndim == 1)}, "regressor", dtypes=dtypes)
