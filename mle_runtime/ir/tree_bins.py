"""Binned input for float64-threshold tree ensembles (docs/FORMAT.md 11.3), chosen at dump time.

A node64 ensemble (LightGBM, HistGradientBoosting) compares ``double(x)`` with float64
thresholds, which float32 cannot hold exactly. The same decisions are made exactly with
float32 arithmetic once every value is replaced by its *bin*: the number of its feature's
distinct thresholds below it (``'<='`` models; at or below it for ``'<'``), a small integer. A
node with threshold ``T[k]`` (the ``k``-th threshold of its feature) then sends ``x`` left
exactly when ``bin(x) <= k``, so the records become node32 records holding ``k`` and the
kernel runs its float32 walks (the vector walk over many rows) on the binned block. Binning a
row costs one binary search per feature, a few per cent of walking hundreds of trees.

Missing values: a NaN stays NaN (the nodes' "none"/"NaN" rules apply as before), except for
features whose nodes all use LightGBM's "zero" rules, which the binning applies per feature
(``bin_missing``): "as-zero" bins a NaN as 0.0; "zero" makes NaN and the zero band NaN, and
those nodes take the "NaN" rule with their own default direction.

``binned`` takes the records ``ir.trees.pack`` made and returns the records and attributes
to store; ensembles it cannot bin exactly (categorical nodes, a feature mixing "zero" rules
with others, 2^24 thresholds on one feature) are returned unchanged, and run as node64.
"""

import numpy as np

from mle_runtime.format import layout as L

_MISSING_MASK = 3 << L.TREE_MISSING_SHIFT
# bin_missing codes (FORMAT.md 11.3)
BIN_AS_IS, BIN_NAN_AS_ZERO, BIN_ZERO_MISSING = 0, 1, 2


def binned(graph, nodes, *, wide, n_features, median=False):
    """``(nodes, wide, attrs)`` to store for the records ``nodes`` (uint8 ``[n, record]`` from
    ``pack``): node32 records over binned input with the ``bin_*`` tensors added to ``graph``
    when the ensemble can be binned exactly, else the records as they are and no attributes.
    The tables do not depend on the ensemble's ``compare`` (the kernel bins accordingly);
    ``median``: the ensemble aggregates by weighted median, which is not binned."""
    if not wide or n_features < 1 or median:
        return nodes, wide, {}
    rec = nodes.reshape(-1).view(L.TREE_NODE64_DTYPE)
    ff = rec["feature_flags"].astype(np.int64)
    internal = (ff & L.TREE_LEAF) == 0
    if np.any(internal & ((ff & L.TREE_CATEGORICAL) != 0)):
        return nodes, wide, {}
    feat = ff & L.TREE_FEATURE_MASK
    rule = (ff & _MISSING_MASK) >> L.TREE_MISSING_SHIFT
    thr = rec["threshold"]
    if np.any(internal & np.isnan(thr)):
        return nodes, wide, {}
    modes = np.zeros(n_features, dtype=np.uint8)
    new_rule = rule.copy()
    offsets = np.zeros(n_features + 1, dtype=np.int64)
    tables = []
    bins = np.zeros(len(rec), dtype=np.int64)
    order = np.argsort(feat[internal], kind="stable")
    idx = np.flatnonzero(internal)[order]
    bounds = np.searchsorted(feat[idx], np.arange(n_features + 1))
    for f in range(n_features):
        at = idx[bounds[f]:bounds[f + 1]]
        rules = set(np.unique(rule[at]).tolist())
        if rules <= {L.TREE_MISSING_NONE, L.TREE_MISSING_NAN}:
            mode = BIN_AS_IS
        elif rules == {L.TREE_MISSING_AS_ZERO}:
            mode = BIN_NAN_AS_ZERO
            new_rule[at] = L.TREE_MISSING_NONE
        elif rules == {L.TREE_MISSING_ZERO}:
            mode = BIN_ZERO_MISSING
            new_rule[at] = L.TREE_MISSING_NAN
        else:
            return nodes, wide, {}
        table = np.unique(thr[at])
        if len(table) >= 2**24:
            return nodes, wide, {}
        bins[at] = np.searchsorted(table, thr[at])
        modes[f] = mode
        tables.append(table)
        offsets[f + 1] = offsets[f] + len(table)
    out = np.zeros(len(rec), dtype=L.TREE_NODE32_DTYPE)
    out["threshold"] = np.where(internal, bins, 0).astype(np.float32)
    flags = (ff & ~_MISSING_MASK) | np.where(internal, new_rule << L.TREE_MISSING_SHIFT, 0)
    out["feature_flags"] = flags.astype(np.uint32)
    out["right"] = rec["right"]
    attrs = {
        "bin_offsets": graph.tensor(offsets.astype(np.uint32), "uint32"),
        "bin_thresholds": graph.tensor(np.concatenate(tables + [np.zeros(0)]), "float64"),
        "bin_missing": graph.tensor(modes, "uint8"),
    }
    return out.view(np.uint8).reshape(len(rec), L.TREE_NODE32_DTYPE.itemsize), False, attrs
