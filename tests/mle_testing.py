"""Helpers shared by several test modules (importable because pyproject.toml puts tests/ on
pytest's ``pythonpath``)."""

import numpy as np

from mle_runtime.ir import Graph


def scaler_model():
    """The golden StandardScaler: ``(metadata, graph)`` of a tiny hand-built model whose bytes
    tests/format/test_golden.py pins."""
    g = Graph("StandardScaler", 2)
    sub = g.tensor(np.array([1.0, -2.0]), "float64")
    div = g.tensor(np.array([2.0, 0.5]), "float64")
    g.output("transform", g.add("SubDiv", ["X"], sub=sub, div=div))
    meta = {"mle_runtime_version": "0.0.0+golden", "framework": "sklearn",
            "framework_version": "0.0", "model_class": "sklearn.StandardScaler",
            "estimator_type": "transformer"}
    return meta, g


def json_nodes(obj, path=()):
    """Every ``(path, node)`` of a parsed JSON document, depth first, the root first."""
    yield path, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from json_nodes(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from json_nodes(v, path + (i,))


def json_get(obj, path):
    """The node at ``path`` (as yielded by :func:`json_nodes`)."""
    for p in path:
        obj = obj[p]
    return obj
