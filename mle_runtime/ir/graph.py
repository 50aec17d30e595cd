"""Graph, Node and tensor references: what an exporter builds and the writer stores."""

import math
from dataclasses import dataclass, field

import numpy as np

from mle_runtime.format.layout import TENSOR_DTYPES
from mle_runtime.ir.ops import validate_node


@dataclass
class Node:
    """One op application: ``output = op(*inputs, **attrs)``."""

    op: str
    inputs: list
    output: str
    attrs: dict = field(default_factory=dict)


class Graph:
    """A straight-line program over named values; ``"X"`` is the caller's input matrix.

    Parameters
    ----------
    name : str
        Model name used in error messages (``"X has 3 features, but <name> is expecting 4"``).
    n_features : int
        Number of input columns.
    """

    def __init__(self, name, n_features):
        self.name = name
        self.n_features = int(n_features)
        self.allow_nan = False
        self.allow_inf = False
        self.cast_float32 = False  # the first step casts X to float32 (must not overflow)
        self.finite_columns = []  # input columns refusing infinity even when allow_inf
        self.nan_owner = None
        self.tensors = []  # numpy arrays, little-endian, C order
        self.nodes = []
        self.outputs = []
        self._count = 0

    def tensor(self, array, dtype):
        """Adds a constant tensor stored as ``dtype`` (a numpy dtype or its name, e.g.
        ``"float64"``); returns its index.

        Values must convert to ``dtype`` exactly (no silent rounding or overflow).
        """
        target = np.dtype(dtype).newbyteorder("<")
        if target not in TENSOR_DTYPES.values():
            raise ValueError(f"tensor dtype {target} is not storable; use one of "
                             f"{sorted(str(d) for d in TENSOR_DTYPES.values())}")
        src = np.asarray(array)
        arr = np.ascontiguousarray(src, dtype=target)
        if src.size and not np.array_equal(arr, src, equal_nan=(target.kind == "f")):
            raise ValueError(f"tensor values do not convert to {dtype} exactly")
        self.tensors.append(arr)
        return len(self.tensors) - 1

    def add(self, op, inputs, **attrs):
        """Appends a node; returns the name of its output value."""
        attrs = {k: v for k, v in attrs.items() if v is not None}
        for k, v in attrs.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"op {op}: attribute {k!r} must be finite, got {v}")
        validate_node(op, len(inputs), attrs, len(self.tensors))
        self._count += 1
        out = f"v{self._count}"
        self.nodes.append(Node(op, list(inputs), out, attrs))
        return out

    def output(self, name, value, ravel=False):
        """Declares graph output ``name`` (a proxy method such as ``"predict"``)."""
        if any(o["name"] == name for o in self.outputs):
            raise ValueError(f"duplicate graph output {name!r}")
        self.outputs.append({"name": name, "value": value, "ravel": bool(ravel)})

    def to_json(self, tensor_offsets):
        """The graph section's JSON object (schema in docs/FORMAT.md); tensor ``i`` starts
        ``tensor_offsets[i]`` bytes into the tensor data section. Records are JSON arrays and
        defaults are left out, so tiny models stay small."""
        g = {"name": self.name, "n_features": self.n_features}
        if self.allow_nan:
            g["allow_nan"] = True
        if self.allow_inf:
            g["allow_inf"] = True
        if self.cast_float32:
            g["cast_float32"] = True
        if self.finite_columns:
            g["finite_columns"] = [int(c) for c in self.finite_columns]
        if self.nan_owner and self.nan_owner != self.name:
            g["nan_owner"] = self.nan_owner
        dtype_names = {v: k for k, v in TENSOR_DTYPES.items()}
        g["tensors"] = [[int(off), dtype_names[t.dtype], list(t.shape)]
                        for off, t in zip(tensor_offsets, self.tensors)]
        g["nodes"] = [[n.op, n.inputs, n.output] + ([n.attrs] if n.attrs else [])
                      for n in self.nodes]
        g["outputs"] = [[o["name"], o["value"]] + ([True] if o["ravel"] else [])
                        for o in self.outputs]
        return g
