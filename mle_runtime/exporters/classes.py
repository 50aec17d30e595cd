"""Class labels as graph label sets, shared by every exporter (imports no framework)."""

import numpy as np

from mle_runtime.errors import UnsupportedModelError


def describe_classes(classes):
    """JSON description of classes_ that restores values and dtype exactly."""
    classes = np.asarray(classes)
    if classes.dtype.kind == "O":
        values = classes.tolist()
        if not all(isinstance(v, str) for v in values) and not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise UnsupportedModelError(
                "classes_ mixes value types or holds objects other than str/int; "
                "only numeric, bool and string class labels are supported"
            )
        return {"dtype": "object", "values": [v if isinstance(v, str) else int(v) for v in values]}
    if classes.dtype.kind in "biufU":
        if classes.dtype.kind == "f" and not np.all(np.isfinite(classes)):
            raise UnsupportedModelError("classes_ contains NaN or infinity")
        return {"dtype": classes.dtype.str, "values": classes.tolist()}
    raise UnsupportedModelError(f"classes_ of dtype {classes.dtype} are not supported")


def label_set(graph, classes):
    """Adds ``classes`` (a classes_ array) to ``graph`` as a label set; returns its index."""
    d = describe_classes(classes)
    return graph.labels(d["dtype"], d["values"])
