"""Generalised linear models (PoissonRegressor, GammaRegressor, TweedieRegressor with every
link: ``predict`` is ``link.inverse(X @ coef_ + intercept_)``, the identity or ``exp``) and
RANSACRegressor (its final ``estimator_``, when that estimator is supported)."""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import export_estimator, register
from mle_runtime.exporters.sklearn.linear import linear_node

GLMS = ("PoissonRegressor", "GammaRegressor", "TweedieRegressor")
_LINKS = {"IdentityLink": None, "LogLink": "Exp"}


@register(*GLMS, kind="predictor")
def glm(est, ctx, x):
    name = type(est).__name__
    link = type(est._base_loss.link).__name__
    if link not in _LINKS:
        raise UnsupportedModelError(f"{name} with link {link} is not supported; supported: "
                                    "IdentityLink, LogLink")
    if np.asarray(est.coef_).dtype != np.float64:
        raise UnsupportedModelError(f"{name} fitted on float32 data is not supported (coef_ is "
                                    f"{np.asarray(est.coef_).dtype}: scikit-learn then computes "
                                    "in float32); fit it on float64 data")
    v, _, _ = linear_node(ctx, est, x)
    if _LINKS[link] is not None:
        v = ctx.graph.add(_LINKS[link], [v])
    return Head({"predict": (v, True)}, "regressor")


@register("RANSACRegressor", kind="predictor")
def ransac(est, ctx, x):
    inner = est.estimator_
    head = export_estimator(inner, ctx, x)
    if head.estimator_type != "regressor" or set(head.outputs) != {"predict"}:
        raise UnsupportedModelError(
            f"RANSACRegressor with estimator {type(inner).__name__} is not supported: its "
            "estimator must be a supported regressor")
    return head
