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
        # Prediction rules (docs/FORMAT.md, section 9.3): what the loaded model's methods
        # return beyond the output arrays. Validated again by the native loader.
        self.estimator_type = None  # "classifier", "regressor", "transformer", ...
        self.label_sets = []  # [dtype, [labels...]]: see :meth:`labels`
        self.keywords = []  # [method, keyword, value, output]: see :meth:`keyword`
        # Input rules: "feature_names" [str] (DataFrame columns by name), "integer"
        # {"keep": bool, "fill_dtypes": [str]} (SimpleImputer's integer input rules),
        # "categories" {column: [categories] or None} (pandas category codes) and
        # "unseen": "error" (refuse categories unseen in training).
        self.inputs = {}
        # The estimator record (docs/FORMAT.md, section 19): a JSON-ready description of the
        # fitted estimator (class, parameters, fitted attributes; arrays as tensor indices of
        # this graph, or {"data": j} for estimator_arrays[j]). Descriptive only: the writer
        # stores it and those arrays in their own optional sections, outside the graph JSON,
        # the tensor data and the content hash.
        self.estimator = None
        self.estimator_arrays = []  # arrays of the record that are not graph tensors
        # Neural networks: the arena plan of ir/memory_plan.py (docs/FORMAT.md, 11.4), or None.
        self.memory_plan = None
        # The inverse's input (docs/FORMAT.md, 9.8): {"n_features": k, "allow_nan"?: bool,
        # "allow_inf"?: bool}; nodes then may read value "Y", and output "inverse_transform"
        # is computed from it alone. None: the graph has one input, X.
        self.inverse = None
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

    def labels(self, dtype, values):
        """Adds a label set (class labels as ``classes_`` holds them: ``dtype`` spelled as
        numpy's ``dtype.str`` or ``"object"``, ``values`` a list of JSON scalars); returns its
        index for :meth:`output`'s ``labels``. An identical set is stored once."""
        entry = [str(dtype), list(values)]
        for i, existing in enumerate(self.label_sets):
            if existing == entry and all(type(a) is type(b)
                                         for a, b in zip(existing[1], entry[1])):
                return i
        self.label_sets.append(entry)
        return len(self.label_sets) - 1

    def output(self, name, value, ravel=False, *, dtype=None, column=False, labels=None,
               splits=None, shape=None, columns=None, container=None, block_dtypes=None,
               flat_blocks=None, sparse=None):
        """Declares graph output ``name`` (a proxy method such as ``"predict"``).

        Parameters
        ----------
        name : str
            The method (or keyword target) name.
        value : str
            The graph value it returns.
        ravel : bool, default False
            Return shape ``(n,)`` (the value must have one column).
        dtype : {"float32", "float64", "int32", "int64", "bool"}, optional
            The dtype the method returns (the framework's own, where the graph computes in a
            wider type whose values are exact in it).
        column : bool, default False
            Return a one-column result as shape ``(n, 1)`` (after the labels).
        labels : int or list of int, optional
            The value holds class indices (of ArgMax or SegmentArgMax); the method returns
            the labels of label set ``labels`` (see :meth:`labels`), or, for a list, column
            ``k``'s labels from set ``labels[k]`` (multi-output classifiers).
        splits : list of int, optional
            Return a list of column blocks of these widths (they sum to the value's columns).
        shape : list of int, optional
            Return shape ``(n, *shape)`` (neural networks; the sizes multiply to the value's
            columns).
        block_dtypes : list of str, optional
            With ``splits``: the dtype of each block; the blocks are returned as a tuple
            (``kneighbors``' ``(distances, indices)``). Not with ``dtype``.
        flat_blocks : list of bool, optional
            With ``splits``: one flag per block; a flagged block (of one column) is returned
            as shape ``(n,)`` (``predict(X, return_std=True)`` of a single-target model).
        sparse : (int, {"values", "ones"}), optional
            With ``splits`` of two equal blocks and ``block_dtypes`` ``["float64", "int64"]``
            (values, column indices; -1 marks no entry): return a ``scipy.sparse`` CSR matrix
            of this many columns holding, row by row in block order, the values (or 1 for
            ``"ones"``) at those columns (``kneighbors_graph``).
        columns : list of str, optional
            The names of the value's columns (``get_feature_names_out()``).
        container : {"pandas", "polars"}, optional
            Return a DataFrame with those columns (``set_output(transform=...)``).
        """
        if any(o["name"] == name for o in self.outputs):
            raise ValueError(f"duplicate graph output {name!r}")
        opts = {}
        if labels is not None:
            opts["labels"] = [int(k) for k in labels] if isinstance(labels, list) else int(labels)
        if splits is not None:
            opts["splits"] = [int(n) for n in splits]
        if dtype is not None:
            opts["dtype"] = str(dtype)
        if column:
            opts["column"] = True
        if shape is not None:  # the per-row shape of an N-D output: (n, *shape)
            opts["shape"] = [int(d) for d in shape]
        if block_dtypes is not None:  # with splits: a tuple of blocks, one dtype each
            opts["block_dtypes"] = [str(d) for d in block_dtypes]
        if flat_blocks is not None:  # with splits: blocks returned as shape (n,)
            opts["flat_blocks"] = [bool(f) for f in flat_blocks]
        if sparse is not None:  # with splits (values, indices): a CSR matrix
            opts["sparse"] = [int(sparse[0]), str(sparse[1])]
        if columns is not None:
            opts["columns"] = [str(c) for c in columns]
        if container is not None:
            opts["container"] = str(container)
        self.outputs.append({"name": name, "value": value, "ravel": bool(ravel), "opts": opts})

    def keyword(self, method, keyword, value, output):
        """Declares a keyword alias: ``method(X, keyword=value)`` returns graph output
        ``output`` (e.g. ``predict(X, raw_score=True)``). A bool keyword at False, or any
        keyword at None, is the plain method."""
        self.keywords.append([str(method), str(keyword), value, str(output)])

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
        g["outputs"] = [[o["name"], o["value"]] + _output_options(o) for o in self.outputs]
        if self.estimator_type is not None:
            g["estimator_type"] = self.estimator_type
        if self.label_sets:
            g["labels"] = self.label_sets
        if self.keywords:
            g["keywords"] = self.keywords
        if self.inputs:
            g["inputs"] = self.inputs
        if self.memory_plan is not None:
            g["memory_plan"] = self.memory_plan.to_json()
        if self.inverse is not None:
            g["inverse"] = self.inverse
        return g


def _output_options(o):
    """An output record's third element: nothing, ``true`` (ravel only) or its options."""
    opts = o.get("opts") or {}
    if not opts:
        return [True] if o["ravel"] else []
    return [dict(opts, ravel=True) if o["ravel"] else opts]
