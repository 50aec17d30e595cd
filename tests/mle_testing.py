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


class Failures:
    """Collects unacceptable outcomes of a fuzz pass, grouped by kind (where it happened and
    the exception type), keeping the first example of each kind (up to 600 characters) with
    enough detail to reproduce it; :meth:`check` fails the test listing them."""

    def __init__(self, max_reported=20):
        self.kinds = {}
        self.max_reported = max_reported

    def add(self, what, exc=None, stage=None):
        key = (stage or what, type(exc).__name__ if exc is not None else None)
        if key not in self.kinds:
            detail = f"{type(exc).__name__}: {exc}" if exc is not None else ""
            self.kinds[key] = [0, f"{what} {detail}".strip()[:600]]
        self.kinds[key][0] += 1

    def check(self):
        shown = list(self.kinds.values())[:self.max_reported]
        lines = [f"[{n} x] {example}" for n, example in shown]
        assert not self.kinds, (f"{sum(n for n, _ in self.kinds.values())} unacceptable "
                                f"outcome(s) of {len(self.kinds)} kind(s):\n" + "\n".join(lines))


def rules(proxy):
    """A loaded model's prediction rules, as the native loader validated and re-serialised
    them (docs/FORMAT.md, section 9.4)."""
    import json

    return json.loads(proxy._native.rules_json())
