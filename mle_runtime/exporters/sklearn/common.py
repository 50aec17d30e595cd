"""Shared machinery of the scikit-learn exporters: the class registry, the export context and
the result of exporting one estimator."""

from dataclasses import dataclass, field

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.classes import describe_classes  # noqa: F401  (re-exported)

# class name -> {"transformer": fn(est, ctx, x) -> value name, "predictor": fn(...) -> Head}.
# A class may have both roles (a Pipeline is a transformer inside another pipeline).
REGISTRY = {}


def register(*names, kind):
    """Registers an exporter function for scikit-learn classes with these names."""
    assert kind in ("transformer", "predictor")

    def deco(fn):
        for n in names:
            REGISTRY.setdefault(n, {})[kind] = fn
        return fn

    return deco


@dataclass
class Head:
    """What exporting an estimator produces: graph outputs by method name."""

    outputs: dict  # method name -> (value name, ravel)
    estimator_type: str  # "classifier", "regressor", "transformer", ...
    classes: object = None  # classes_ for classifiers (a list of arrays for multi-output)
    splits: dict = None  # method -> column counts: the method returns a list of column blocks
    meta: dict = None  # further metadata keys the final step needs (e.g. "keyword_outputs")


@dataclass
class Context:
    """State carried through a pipeline while exporting.

    ``nan_possible`` says whether NaN can reach the current step; the first step that refuses
    NaN while it is possible becomes ``nan_owner``, which makes the model refuse NaN at its
    input with that step named, as scikit-learn would raise from that step.

    Infinity is refused unless every step accepts it: an exporter whose estimator takes inf
    (HistGradientBoosting) sets ``accepts_inf`` while it runs.
    """

    graph: object
    nan_possible: bool = True
    nan_owner: str = None
    steps: list = field(default_factory=list)
    accepts_inf: bool = False
    all_accept_inf: bool = True

    def run_step(self, fn, est, x):
        self.accepts_inf = False
        result = fn(est, self, x)
        self.all_accept_inf = self.all_accept_inf and self.accepts_inf
        return result

    def refuses_nan(self, est):
        if self.nan_possible and self.nan_owner is None:
            self.nan_owner = type(est).__name__


def lookup(est):
    """The exporter roles of an estimator; only scikit-learn's own classes are accepted."""
    cls = type(est)
    if cls.__module__.split(".")[0] == "sklearn" and cls.__name__ in REGISTRY:
        return REGISTRY[cls.__name__]
    if any(c.__module__.split(".")[0] == "lightgbm" for c in cls.__mro__):
        # LightGBM's scikit-learn models may end a Pipeline (their exporter refuses the rest)
        from mle_runtime.exporters import lightgbm

        return {"predictor": lightgbm.pipeline_step}
    base = next((c for c in cls.__mro__[1:]
                 if c.__module__.split(".")[0] == "sklearn" and c.__name__ in REGISTRY), None)
    if base is not None:
        raise UnsupportedModelError(
            f"{cls.__module__}.{cls.__qualname__} subclasses scikit-learn's {base.__name__}; its "
            "methods may differ from the base class, so it is not exported. Export a plain "
            f"{base.__name__} instead."
        )
    raise UnsupportedModelError(
        f"scikit-learn estimator {cls.__name__} is not supported yet. Supported: "
        f"{', '.join(sorted(REGISTRY))}."
    )


def transform_step(est, ctx, x):
    """Exports a transformer applied to value x; returns the new value name."""
    fn = lookup(est).get("transformer")
    if fn is None:
        raise UnsupportedModelError(
            f"{type(est).__name__} cannot be used as an intermediate pipeline step (it has no "
            "transform)"
        )
    ctx.steps.append(type(est).__name__)
    return ctx.run_step(fn, est, x)


def export_estimator(est, ctx, x):
    """Exports any supported estimator as the last step; returns a Head."""
    roles = lookup(est)
    if "predictor" in roles:
        if type(est).__name__ == "Pipeline":
            return roles["predictor"](est, ctx, x)
        ctx.steps.append(type(est).__name__)
        return ctx.run_step(roles["predictor"], est, x)
    ctx.steps.append(type(est).__name__)
    return Head({"transform": (ctx.run_step(roles["transformer"], est, x), False)},
                "transformer")


def as_float64(a, what):
    """A dense float64 copy of a fitted array (float32 widens exactly); refuses non-finite."""
    if hasattr(a, "toarray"):
        a = a.toarray()
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise UnsupportedModelError(f"{what} has dtype {arr.dtype}; expected numbers")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise UnsupportedModelError(f"{what} contains NaN or infinity; the model cannot predict")
    return arr
