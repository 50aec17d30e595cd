"""Covariance estimators (EmpiricalCovariance, ShrunkCovariance, LedoitWolf, OAS, MinCovDet,
GraphicalLasso, GraphicalLassoCV): ``mahalanobis``; EllipticEnvelope: ``mahalanobis``,
``score_samples``, ``decision_function`` and ``predict``.

``EmpiricalCovariance.mahalanobis`` is the squared distance of each row to ``location_`` under
``get_precision()`` (scipy's ``cdist(..., "mahalanobis")`` squared): ``r' P r`` with
``r = x - location_``, computed in binary64 whatever the input's float type. That is
``-2 * GaussianLogDensity`` with constant 0 (the factor is exact). ``assume_centered`` only
changes the fitted ``location_`` (zeros), which is what is stored. EllipticEnvelope's
``score_samples`` is ``-mahalanobis`` (``2 * GaussianLogDensity``), its ``decision_function``
``score_samples - offset_`` and ``predict`` ``1`` where that is ``>= 0``, else ``-1``.
"""

import numpy as np

from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import as_float64, register

COVARIANCES = ("EmpiricalCovariance", "ShrunkCovariance", "LedoitWolf", "OAS", "MinCovDet",
               "GraphicalLasso", "GraphicalLassoCV")

_FITTED = ("location_", "covariance_", "precision_")
ATTRIBUTES = {
    "EmpiricalCovariance": ("n_features_in_", "feature_names_in_") + _FITTED,
    "ShrunkCovariance": ("n_features_in_", "feature_names_in_") + _FITTED,
    "LedoitWolf": ("n_features_in_", "feature_names_in_") + _FITTED + ("shrinkage_",),
    "OAS": ("n_features_in_", "feature_names_in_") + _FITTED + ("shrinkage_",),
    "MinCovDet": ("n_features_in_", "feature_names_in_") + _FITTED + (
        "raw_location_", "raw_covariance_", "raw_support_", "support_", "dist_"),
    "GraphicalLasso": ("n_features_in_", "feature_names_in_") + _FITTED + ("n_iter_", "costs_"),
    "GraphicalLassoCV": ("n_features_in_", "feature_names_in_") + _FITTED + (
        "alpha_", "cv_results_", "n_iter_", "costs_"),
    "EllipticEnvelope": ("n_features_in_", "feature_names_in_") + _FITTED + (
        "raw_location_", "raw_covariance_", "raw_support_", "support_", "dist_", "offset_"),
}


def log_density(est, ctx, x):
    """``-0.5 * mahalanobis(X)``: a GaussianLogDensity with constant 0."""
    name = type(est).__name__
    ctx.refuses_nan(est)
    location = as_float64(est.location_, f"{name}.location_")
    # scipy's mahalanobis multiplies row i of VI by r; the op sums column i of its matrix.
    precision = as_float64(est.get_precision(), f"{name}.get_precision()")
    g = ctx.graph
    return g.add("GaussianLogDensity", [x], mean=g.tensor(location, "float64"),
                 precision=g.tensor(np.ascontiguousarray(precision.T), "float64"),
                 constant=0.0)


def mahalanobis(est, ctx, x):
    return ctx.graph.add("Scale", [log_density(est, ctx, x)], factor=-2.0)


@register(*COVARIANCES, kind="predictor")
def covariance(est, ctx, x):
    return Head({"mahalanobis": (mahalanobis(est, ctx, x), True)}, None)


@register("EllipticEnvelope", kind="predictor")
def elliptic_envelope(est, ctx, x):
    g = ctx.graph
    ll = log_density(est, ctx, x)
    score = g.add("Scale", [ll], factor=2.0)  # -mahalanobis
    decision = g.add("SubDiv", [score], sub=g.tensor([float(est.offset_)], "float64"))
    return Head({"mahalanobis": (g.add("Scale", [ll], factor=-2.0), True),
                 "score_samples": (score, True), "decision_function": (decision, True),
                 "predict": (g.add("OutlierLabel", [decision]), True)}, "outlier_detector")
