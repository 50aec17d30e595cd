"""OneHotEncoder and OrdinalEncoder over numeric and string columns.

String columns never reach the graph: the input rule "strings" (``Context.vocab``) turns each
into codes, the positions of its values in the sorted vocabulary of everything its consumers
know (None -2, NaN NaN, anything else -1), and the ``OneHot`` / ``CategoryMap`` ops compare
numbers. Which output each category (and an unknown value) gives is read from the fitted
encoder itself, by transforming one probe row per category and per feature: ``drop``
(first, if_binary, explicit), infrequent categories (``min_frequency``, ``max_categories``),
``handle_unknown`` and ``encoded_missing_value`` / ``unknown_value`` come out exactly as
scikit-learn computes them. Encoders that refuse (``handle_unknown="error"``) or warn about
unknown categories do so on the input (the input rule "unknown"), with scikit-learn's messages.

``sparse_output=True`` is stored, and the loaded model returns the same values as a dense
array (the runtime imports no scipy).
"""

import warnings

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.sklearn.common import register


def _is_nan(v):
    return isinstance(v, (float, np.floating)) and v != v


def _string_categories(cats):
    """Whether a feature's categories are strings (with None / NaN), else numbers."""
    if cats.dtype.kind in "US":
        return True
    if cats.dtype.kind == "O":
        vals = [v for v in cats.tolist() if v is not None and not _is_nan(v)]
        if vals and all(isinstance(v, str) for v in vals):
            return True
        if all(isinstance(v, (int, float, np.integer, np.floating))
               and not isinstance(v, (bool, np.bool_)) for v in vals):
            if any(v is None for v in cats.tolist()):
                raise UnsupportedModelError("numeric categories with None are not supported")
            return False
        raise UnsupportedModelError(
            f"categories of type {sorted({type(v).__name__ for v in vals})} are not "
            "supported; supported: strings (with None / NaN) or numbers")
    if cats.dtype.kind in "biuf":
        return False
    raise UnsupportedModelError(f"categories of dtype {cats.dtype} are not supported")


def _sentinel(cats, is_str):
    """A value that is not among a feature's categories."""
    if is_str:
        known = set(v for v in cats.tolist() if isinstance(v, str))
        s = "\x00unknown"
        while s in known:
            s += "_"
        return s
    finite = [float(v) for v in cats.tolist() if not _is_nan(v)]
    return (max(finite) + 1.0) if finite else 0.0


def _probe(est, cats, kinds, with_unknown):
    """The encoder's dense output for one row per category of each feature (the others at
    their first category) and, with_unknown, one row per feature holding an unknown value."""
    n = len(cats)
    rows = max(len(c) for c in cats)
    P = np.empty((rows + (n if with_unknown else 0), n), dtype=object)
    for f, c in enumerate(cats):
        vals = c.tolist()
        for r in range(rows):
            P[r, f] = vals[r % len(vals)]
        if with_unknown:
            P[rows:, f] = vals[0]
            P[rows + f, f] = _sentinel(c, kinds[f])
    for f in range(n):
        if not kinds[f]:
            P[:, f] = [float(v) for v in P[:, f]]
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        import pandas as pd  # dump time only: the encoder was fitted on a DataFrame

        P = pd.DataFrame(P, columns=list(names), dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = est.transform(P)
    if hasattr(out, "toarray"):
        out = out.toarray()
    return np.asarray(out, dtype=np.float64), rows


class _Feature:
    """One encoder input column: its categories in the graph's numbers (codes for strings)."""

    def __init__(self, ctx, x, f, cats, is_str, what):
        self.ctx, self.cats, self.is_str = ctx, cats, is_str
        src = ctx.source(x, f + 1)
        self.input_col = src[f] if f < len(src) else None
        self.imputed = ctx.imputed.get(x, {}).get(f, ())
        if is_str:
            self.input_col = ctx.string_column(x, f, what)
            ctx.vocab[self.input_col].update(v for v in cats.tolist() if isinstance(v, str))

    def values(self):
        """The categories as graph numbers (call after the export: codes are known then)."""
        if self.is_str:
            return np.array([self.ctx.code(self.input_col, v) for v in self.cats.tolist()])
        return self.cats.astype(np.float64)

    def known(self):
        """What the input column may hold without being unknown: the categories and the
        markers a preceding imputer replaces (JSON numbers, null for NaN)."""
        vals = list(self.values().tolist())
        for m in self.imputed:
            vals.append(self.ctx.code(self.input_col, m) if self.is_str else
                        (float("nan") if m is None or _is_nan(m) else float(m)))
        return [None if v != v else float(v) for v in dict.fromkeys(vals)]


def _features(est, ctx, x, what):
    cats = [np.asarray(c) for c in est.categories_]
    if not cats or any(len(c) == 0 for c in cats):
        raise UnsupportedModelError(f"{what} has a feature without categories")
    kinds = [_string_categories(c) for c in cats]
    feats = [_Feature(ctx, x, f, c, k, what) for f, (c, k) in enumerate(zip(cats, kinds))]
    return cats, kinds, feats


def _check_dtype(est, what):
    if np.dtype(est.dtype) != np.float64:
        raise UnsupportedModelError(f"{what}(dtype={np.dtype(est.dtype).name}) is not supported; "
                                    "supported: dtype=float64 (the default)")


def _add_check(ctx, feats, mode, text, what):
    for f, feat in enumerate(feats):
        if feat.input_col is None:
            raise UnsupportedModelError(
                f"{what}: handle_unknown={mode!r} needs its column {f} to be an input column "
                "(unknown categories are found on the input); this one is computed by an "
                "earlier step. Supported there: handle_unknown='ignore' or "
                "'infrequent_if_exist'")
    ctx.checks.append(lambda: [mode, [ft.input_col for ft in feats],
                               [ft.known() for ft in feats], text])


def _sorted_tables(g, feats, per_cat):
    """Tensors offsets, categories (sorted per feature in graph numbers, NaN last) and the
    per-category entries ``per_cat[f]`` in the same order; written once codes are known."""
    n_cats = sum(len(ft.cats) for ft in feats)
    offsets = np.cumsum([0] + [len(ft.cats) for ft in feats]).astype(np.int64)
    t_off = g.tensor(offsets, "int64")
    t_cat = g.tensor(np.zeros(n_cats), "float64")
    t_ent = g.tensor(np.zeros(n_cats, dtype=per_cat[0].dtype), per_cat[0].dtype)

    def fix():
        cats, ents = [], []
        for ft, ent in zip(feats, per_cat):
            v = ft.values()
            order = np.argsort(v, kind="stable")  # NaN sorts last
            cats.append(v[order])
            ents.append(ent[order])
        g.tensors[t_cat] = np.ascontiguousarray(np.concatenate(cats), dtype="<f8")
        g.tensors[t_ent] = np.ascontiguousarray(np.concatenate(ents),
                                                dtype=per_cat[0].dtype.newbyteorder("<"))

    return t_off, t_cat, t_ent, fix


@register("OneHotEncoder", kind="transformer")
def one_hot_encoder(est, ctx, x):
    what = "OneHotEncoder"
    _check_dtype(est, what)
    cats, kinds, feats = _features(est, ctx, x, what)
    hu = est.handle_unknown
    if hu not in ("error", "ignore", "infrequent_if_exist", "warn"):
        raise UnsupportedModelError(f"OneHotEncoder(handle_unknown={hu!r}) is not supported")
    out, rows = _probe(est, cats, kinds, hu != "error")
    widths = [int(w) for w in est._n_features_outs]
    ends = np.cumsum(widths)
    starts = ends - widths
    width = int(ends[-1]) if len(ends) else 0
    if width != out.shape[1] or width == 0:
        raise UnsupportedModelError(f"{what}: its output has {out.shape[1]} columns, expected "
                                    f"{width}")

    def hot(row, f):
        block = out[row, starts[f]:ends[f]]
        nz = np.flatnonzero(block)
        if len(nz) > 1 or (len(nz) == 1 and block[nz[0]] != 1.0):
            raise UnsupportedModelError(f"{what}: unexpected output for feature {f}")
        return int(starts[f] + nz[0]) if len(nz) else -1

    per_cat = [np.array([hot(r, f) for r in range(len(c))], dtype=np.int64)
               for f, c in enumerate(cats)]
    unknown = np.array([hot(rows + f, f) if hu != "error" else -1 for f in range(len(cats))],
                       dtype=np.int64)
    g = ctx.graph
    t_off, t_cat, t_cols, fix = _sorted_tables(g, feats, per_cat)
    ctx.fixups.append(fix)
    warn = hu == "warn" or (est.drop is not None and hu in ("ignore", "infrequent_if_exist"))
    if hu == "error":
        _add_check(ctx, feats, "error", "", what)
    elif warn:
        text = ("These unknown categories will be encoded as the infrequent category."
                if hu in ("warn", "infrequent_if_exist") else
                "These unknown categories will be encoded as all zeros")
        _add_check(ctx, feats, "warn", text, what)
    ctx.nan_possible = False
    return g.add("OneHot", [x], offsets=t_off, categories=t_cat, columns=t_cols,
                 unknown=g.tensor(unknown, "int64"), width=g.tensor([width], "int64"))


@register("OrdinalEncoder", kind="transformer")
def ordinal_encoder(est, ctx, x):
    what = "OrdinalEncoder"
    _check_dtype(est, what)
    cats, kinds, feats = _features(est, ctx, x, what)
    hu = est.handle_unknown
    if hu not in ("error", "use_encoded_value"):
        raise UnsupportedModelError(f"OrdinalEncoder(handle_unknown={hu!r}) is not supported")
    out, rows = _probe(est, cats, kinds, hu != "error")
    per_cat = [out[:len(c), f].copy() for f, c in enumerate(cats)]
    unknown = (np.array([out[rows + f, f] for f in range(len(cats))]) if hu != "error"
               else np.full(len(cats), np.nan))
    g = ctx.graph
    t_off, t_cat, t_codes, fix = _sorted_tables(g, feats, per_cat)
    ctx.fixups.append(fix)
    if hu == "error":
        _add_check(ctx, feats, "error", "", what)
    ctx.nan_possible = bool(np.isnan(unknown).any() or any(np.isnan(c).any() for c in per_cat))
    return g.add("CategoryMap", [x], offsets=t_off, categories=t_cat, codes=t_codes,
                 unknown=g.tensor(unknown, "float64"))
