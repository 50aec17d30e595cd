"""Pipeline: transformers chained into the final step's graph (nested pipelines included)."""

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import (export_estimator, register, transform_head,
                                                transform_step)


def _active(step):
    return step is not None and step != "passthrough"


class _At:
    """Sets the context's path to a pipeline step while it is exported."""

    def __init__(self, ctx, i):
        self.ctx, self.i = ctx, i

    def __enter__(self):
        self.outer = self.ctx.path
        self.ctx.path = f"{self.outer}.steps[{self.i}][1]"

    def __exit__(self, *exc):
        self.ctx.path = self.outer


def _again(ctx, fn, step, x):
    """fn(step, ctx, x) for a step exported a second time (the summary names it once)."""
    n = len(ctx.steps)
    try:
        return fn(step, ctx, x)
    finally:
        del ctx.steps[n:]


@register("Pipeline", kind="transformer")
def pipeline_transform(est, ctx, x):
    """A Pipeline used as an intermediate step (nested): every step must transform."""
    for i, (_, step) in enumerate(est.steps):
        if _active(step):
            with _At(ctx, i):
                x = transform_step(step, ctx, x) if type(step).__name__ != "Pipeline" else \
                    pipeline_transform(step, ctx, x)
    return x


@register("Pipeline", kind="predictor")
def pipeline(est, ctx, x):
    *head, (_, last) = est.steps
    # A step whose result depends on the whole batch (the input rule "all_missing") gives an
    # alternative value: the steps after it are exported on both, and each of the pipeline's
    # outputs is paired with its alternative.
    alt, rule = None, None
    for i, (_, step) in enumerate(head):
        if _active(step):
            with _At(ctx, i):
                n_rules = len(ctx.all_missing)
                x = transform_step(step, ctx, x)
                if alt is not None:
                    alt = _again(ctx, transform_step, step, alt)
                elif len(ctx.all_missing) > n_rules and ctx.all_missing[-1][0] == x:
                    rule = ctx.all_missing[-1]
                    alt = rule[1]
    if not _active(last):
        return transform_head(ctx, x)
    with _At(ctx, len(head)):
        out = export_estimator(last, ctx, x)
        if alt is not None:
            alt_out = _again(ctx, export_estimator, last, alt)
            rule[5].update({v: alt_out.outputs[m][0] for m, (v, _) in out.outputs.items()
                            if m in alt_out.outputs})
    # A Pipeline offers no predict_joint_log_proba, even when its last step does.
    had = bool(out.outputs)
    out.outputs.pop("predict_joint_log_proba", None)
    out.outputs.pop("mahalanobis", None)  # nor mahalanobis (covariance estimators)
    if had and not out.outputs:
        raise UnsupportedModelError(
            f"a Pipeline ending in {type(last).__name__} is not supported: the Pipeline offers "
            "none of that step's methods, so the model would predict nothing; store the "
            "estimator on its own")
    return out
