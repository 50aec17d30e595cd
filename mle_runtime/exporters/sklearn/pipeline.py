"""Pipeline: transformers chained into the final step's graph (nested pipelines included)."""

from mle_runtime.exporters.base import Head
from mle_runtime.exporters.sklearn.common import export_estimator, register, transform_step


def _active(step):
    return step is not None and step != "passthrough"


@register("Pipeline", kind="transformer")
def pipeline_transform(est, ctx, x):
    """A Pipeline used as an intermediate step (nested): every step must transform."""
    for _, step in est.steps:
        if _active(step):
            x = transform_step(step, ctx, x) if type(step).__name__ != "Pipeline" else \
                pipeline_transform(step, ctx, x)
    return x


@register("Pipeline", kind="predictor")
def pipeline(est, ctx, x):
    *head, (_, last) = est.steps
    for _, step in head:
        if _active(step):
            x = transform_step(step, ctx, x)
    if not _active(last):
        return Head({"transform": (x, False)}, "transformer")
    head = export_estimator(last, ctx, x)
    # A Pipeline offers no predict_joint_log_proba, even when its last step does.
    head.outputs.pop("predict_joint_log_proba", None)
    return head
