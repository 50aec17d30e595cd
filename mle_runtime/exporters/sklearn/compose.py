"""ColumnTransformer and FeatureUnion: column selections (``Columns``), each transformer's own
graph, and their outputs side by side (``Concat``).

ColumnTransformer is read from its fitted ``transformers_``, whose column selections are
resolved (``make_column_selector``, the remainder); the input positions of each transformer
are ``_transformer_to_input_indices``, which scikit-learn itself uses at transform time, so
names, integer positions, boolean masks, slices and callables all come out as it applies
them. A DataFrame's columns are matched by name on the input (reordered columns work); a
numpy array is taken by position, as scikit-learn does.

The output is dense: a ColumnTransformer whose ``sparse_threshold`` would give a scipy
sparse matrix returns the same values as a dense array (the runtime never imports scipy).
"""

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import register, transform_step


def _gather(ctx, x, idx):
    """The columns idx of value x (x itself when idx is all of them in order)."""
    idx = [int(i) for i in idx]
    src = ctx.source(x, max(idx) + 1)
    n = ctx.graph.n_features if x == "X" else None
    if n is not None and idx == list(range(n)):
        return x
    g = ctx.graph
    out = g.add("Columns", [x], columns=g.tensor(np.asarray(idx, dtype=np.int64), "int64"))
    ctx.sources[out] = [src[i] if i < len(src) else None for i in idx]
    before = ctx.imputed.get(x, {})
    ctx.imputed[out] = {k: before[i] for k, i in enumerate(idx) if i in before}
    ctx.carry[out] = {s for s in ctx.sources[out] if s is not None}
    return out


def _branches(ctx, x, parts, what):
    """Exports each (path, transformer or 'passthrough', x_part) branch; returns the values,
    in order, and sets the context's NaN state for what follows the concatenation."""
    nan_in, cols_in = ctx.nan_possible, ctx.nan_cols
    values, nan_out, cols_out = [], False, set()
    for path, trans, xb in parts:
        src = ctx.source(xb, 1) if xb != x else [None]
        if xb != x and all(s is not None for s in src):
            cols = set(src) if cols_in is None else set(src) & set(cols_in)
            ctx.nan_possible, ctx.nan_cols = nan_in and bool(cols), cols
        else:
            ctx.nan_possible, ctx.nan_cols = nan_in, cols_in
        if isinstance(trans, str):
            if trans != "passthrough":
                raise UnsupportedModelError(f"{path}: {what} transformer {trans!r} is not "
                                            "supported; supported: estimators, 'passthrough', "
                                            "'drop'")
            out = xb
        else:
            outer = ctx.path
            ctx.path = path
            try:
                out = transform_step(trans, ctx, xb)
            finally:
                ctx.path = outer
        if ctx.nan_possible:
            nan_out = True
            cols_out = None if (cols_out is None or ctx.nan_cols is None) else \
                cols_out | set(ctx.nan_cols)
        values.append(out)
    ctx.nan_cols = cols_out if nan_out else set()
    ctx.nan_possible = nan_out
    return values


def _concat(ctx, values):
    if len(values) == 1:
        return values[0]
    out = ctx.graph.add("Concat", list(values))
    ctx.carry[out] = set().union(*(ctx.carried(v) for v in values))
    return out


@register("ColumnTransformer", kind="transformer")
def column_transformer(est, ctx, x):
    where = ctx.path
    if getattr(est, "transformer_weights", None):
        weights = dict(est.transformer_weights)
    else:
        weights = {}
    indices = getattr(est, "_transformer_to_input_indices", None)
    if indices is None:
        raise UnsupportedModelError("ColumnTransformer without _transformer_to_input_indices "
                                    "(scikit-learn older than 1.1) is not supported")
    parts = []
    for i, (name, trans, _cols) in enumerate(est.transformers_):
        if isinstance(trans, str) and trans == "drop":
            continue
        idx = indices.get(name, [])
        if len(idx) == 0:  # scikit-learn skips empty selections
            continue
        parts.append((f"{where}.transformers_[{i}][1]", trans, _gather(ctx, x, idx), name))
    if not parts:
        raise UnsupportedModelError("ColumnTransformer drops every column; its output is empty")
    values = _branches(ctx, x, [p[:3] for p in parts], "ColumnTransformer")
    values = [_weighted(ctx, v, weights.get(p[3])) for v, p in zip(values, parts)]
    return _concat(ctx, values)


def _weighted(ctx, v, w):
    if w is None:
        return v
    out = ctx.graph.add("Scale", [v], factor=float(w))
    return out


@register("FeatureUnion", kind="transformer")
def feature_union(est, ctx, x):
    where = ctx.path
    weights = dict(est.transformer_weights or {})
    parts = []
    for i, (name, trans) in enumerate(est.transformer_list):
        if trans is None or (isinstance(trans, str) and trans == "drop"):
            continue
        parts.append((f"{where}.transformer_list[{i}][1]", trans, x, name))
    if not parts:
        raise UnsupportedModelError("FeatureUnion drops every transformer; its output is empty")
    values = _branches(ctx, x, [p[:3] for p in parts], "FeatureUnion")
    values = [_weighted(ctx, v, weights.get(p[3])) for v, p in zip(values, parts)]
    return _concat(ctx, values)
