"""What ``get_model_info`` and ``inspect_model`` report: the descriptive metadata keys and a
loaded model's description. Below the public API, so that proxies need not import it."""

_DESCRIPTIVE = ("mle_runtime_version", "framework", "framework_version", "model_class",
                "estimator_type", "summary", "created", "content_hash", "model_version")


def described(meta, estimator_type=None):
    """The descriptive metadata keys of ``meta`` (values of unexpected types as None), the
    parent's content hash and the user's metadata. ``estimator_type``: the graph's (format
    1.3 files keep it there); files before 1.3 have it in their metadata."""
    out = {}
    for key in _DESCRIPTIVE:
        v = meta.get(key)
        out[key] = v if isinstance(v, (str, int, float)) else None
    if estimator_type is not None:
        out["estimator_type"] = estimator_type
    lineage = meta.get("lineage")
    out["parent"] = lineage.get("parent") if isinstance(lineage, dict) else None
    out["user_metadata"] = meta.get("user")
    return out


def model_info(model):
    """:meth:`MLEModel.get_model_info`: the description of a loaded model."""
    meta = model.metadata
    out = described(meta, model._estimator_type)
    out["quantization"] = meta.get("quantization")
    native = model._native
    out["n_features"] = int(native.n_features)
    out["outputs"] = list(model._outputs)
    out["memory_mapped"] = bool(native.mapped)
    out["file_size"] = int(native.file_size)
    out["metadata"] = meta
    return out
