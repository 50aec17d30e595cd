"""Shared machinery of the scikit-learn exporters: the class registry, the export context and
the result of exporting one estimator."""

from dataclasses import dataclass, field

import numpy as np

from mle_runtime import exporters
from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import Head, check_class, top_package

# class name -> {"transformer": fn(est, ctx, x) -> value name, "predictor": fn(...) -> Head}.
# A class may have both roles (a Pipeline is a transformer inside another pipeline).
REGISTRY = {}
# class name -> why it cannot be stored: scikit-learn classes refused with that reason rather
# than as merely unsupported (see refuse()).
REFUSED = {}


def refuse(name, reason):
    """Records why the scikit-learn class ``name`` is refused at dump (its message)."""
    REFUSED[name] = reason


def register(*names, kind):
    """Registers an exporter function for scikit-learn classes with these names."""
    assert kind in ("transformer", "predictor")

    def deco(fn):
        for n in names:
            REGISTRY.setdefault(n, {})[kind] = fn
        return fn

    return deco


@dataclass
class Context:
    """State carried through a pipeline while exporting.

    ``nan_possible`` says whether NaN can reach the current step; the first step that refuses
    NaN while it is possible becomes ``nan_owner``, which makes the model refuse NaN at its
    input with that step named, as scikit-learn would raise from that step.

    Infinity is refused unless every step accepts it: an exporter whose estimator takes inf
    (HistGradientBoosting) sets ``accepts_inf`` while it runs.
    """

    graph: object
    nan_possible: bool = True
    nan_owner: str = None
    steps: list = field(default_factory=list)
    accepts_inf: bool = False
    all_accept_inf: bool = True
    # String columns (the input rule "strings"): input column -> the strings its consumers
    # know. Codes are positions in the sorted vocabulary, known only once every consumer is
    # exported, so tensors and attributes that hold codes are written by ``fixups`` at the end.
    vocab: dict = field(default_factory=dict)
    fixups: list = field(default_factory=list)
    checks: list = field(default_factory=list)  # the input rule "unknown", as fixups build it
    # value name -> per column, the input column it is a copy of (None: computed). "X" is
    # the input itself; gathers and imputers keep the sources of the columns they pass on.
    sources: dict = field(default_factory=dict)
    # value name -> {column: markers a preceding imputer replaced (never reach a consumer)}
    imputed: dict = field(default_factory=dict)
    # value name -> the input columns it passes on unchanged (strings among them must be
    # encoded before an output: a model never returns string codes)
    carry: dict = field(default_factory=dict)
    path: str = "value"  # where the step being exported sits, for messages
    # Input columns whose NaN can reach the current step (None: any), and those a step that
    # refuses NaN can get it from (None: any): a ColumnTransformer's branches see only their
    # columns, so NaN in a column it imputes or drops is not refused.
    nan_cols: object = None
    nan_refused: object = field(default_factory=set)
    # value name -> the dtype the estimator that computed it returns, where it is not a
    # float (MissingIndicator: bool); a model whose transform ends at that value returns it
    value_dtypes: dict = field(default_factory=dict)
    # Batch-wide rules (the input rule "all_missing", docs/FORMAT.md 9.7): (value, alternative
    # value, input columns, missing value or None for NaN, owner's name, {later value: its
    # alternative}): a method returning value (or a later value, a Pipeline's steps after the
    # owner exported on both) returns the alternative when every entry of those columns of
    # the batch is missing.
    all_missing: list = field(default_factory=list)

    def run_step(self, fn, est, x):
        self.accepts_inf = False
        result = fn(est, self, x)
        self.all_accept_inf = self.all_accept_inf and self.accepts_inf
        return result

    def source(self, x, n_cols=None):
        """Per column of value x, the input column it copies, or None."""
        if x == "X":
            return list(range(self.graph.n_features))
        src = self.sources.get(x)
        if src is None:
            return [None] * (n_cols or 0)
        return src

    def carried(self, x):
        """The input columns value x passes on unchanged."""
        if x == "X":
            return set(range(self.graph.n_features))
        return self.carry.get(x, set())

    def string_column(self, x, j, what):
        """The input column behind column j of value x, which must hold strings; refuses
        one computed by an earlier step (strings never reach the graph)."""
        src = self.source(x, j + 1)
        col = src[j] if j < len(src) else None
        if col is None:
            raise UnsupportedModelError(
                f"{what}: its column {j} holds strings but is not an input column (strings are "
                "encoded on the input, before the graph runs); supported: string columns "
                "taken from the input, optionally through a SimpleImputer")
        self.vocab.setdefault(col, set())
        return col

    def code(self, col, value):
        """The code of a string (or None / NaN) in input column col (after the export)."""
        if value is None:
            return -2.0
        if isinstance(value, float) and value != value:
            return float("nan")
        return float(self._index[col][value])

    def finish(self, outputs=()):
        """Writes the input rules of string columns and runs the fixups; refuses outputs
        (values) that would return string columns."""
        for v in outputs:
            bad = sorted(self.carried(v) & set(self.vocab))
            if bad:
                raise UnsupportedModelError(
                    f"the model's output passes on string input column(s) {bad} unencoded; "
                    "models returning strings are not supported (encode them, e.g. with "
                    "OneHotEncoder or OrdinalEncoder)")
        self._sorted = {c: sorted(v) for c, v in self.vocab.items()}
        self._index = {c: {s: i for i, s in enumerate(v)} for c, v in self._sorted.items()}
        for fix in self.fixups:
            fix()
        unread = self._unread_columns(outputs)
        if unread:
            self.graph.inputs["unread"] = unread
        if self._sorted:
            self.graph.inputs["strings"] = [[c, self._sorted[c]] for c in sorted(self._sorted)]
        if self.checks:
            self.graph.inputs["unknown"] = [c() for c in self.checks]

    def _unread_columns(self, outputs):
        """The input columns no node reads (a ColumnTransformer's dropped remainder): only a
        ``Columns`` node reads a subset of X; any other reader, or X as an output, reads all."""
        g = self.graph
        read = set()
        for node in g.nodes:
            if "X" not in node.inputs:
                continue
            if node.op != "Columns":
                return []
            read.update(int(c) for c in g.tensors[node.attrs["columns"]])
        if "X" in outputs:
            return []
        return [c for c in range(g.n_features) if c not in read]

    def refuses_nan(self, est):
        if not self.nan_possible:
            return
        if self.nan_owner is None:
            self.nan_owner = type(est).__name__
        if self.nan_cols is None:
            self.nan_refused = None
        elif self.nan_refused is not None:
            self.nan_refused |= set(self.nan_cols)


def active_leaves(est):
    """The estimators that run, in order, with pipelines (nested too) flattened."""
    if type(est).__name__ == "Pipeline":
        for _, step in est.steps:
            if step is not None and step != "passthrough":
                yield from active_leaves(step)
    else:
        yield est


def lookup(est):
    """The exporter roles of an estimator: scikit-learn's own classes, and the models of any
    framework whose exporter offers a ``pipeline_step`` (as the predictor)."""
    cls = type(est)
    if top_package(cls) != "sklearn":
        step = exporters.pipeline_step(est)
        if step is not None:
            return {"predictor": step}
    if top_package(cls) == "sklearn" and cls.__name__ in REFUSED:
        raise UnsupportedModelError(REFUSED[cls.__name__])
    return REGISTRY[check_class(est, "sklearn", REGISTRY, "scikit-learn")]


def _where(ctx, est):
    cls = type(est)
    return f"{ctx.path} ({cls.__module__.split('.')[0]}.{_public_module(cls)}{cls.__name__})"


def _public_module(cls):
    """The public module of a scikit-learn class ("preprocessing." for
    sklearn.preprocessing._encoders), or "" when it is a top-level one."""
    parts = cls.__module__.split(".")[1:]
    public = [p for p in parts if not p.startswith("_")]
    return (public[0] + ".") if public else ""


def located(ctx, est, fn, *args):
    """Runs fn(*args); an UnsupportedModelError from a nested step is re-raised naming the
    step by its path in the exported value (``value.steps[0][1].transformers_[1][1]``).
    The error keeps, as ``part`` and ``reason``, the innermost estimator whose export failed
    and that estimator's own reason, so that the value codec can name the fitted step that is
    the cause (by its path in the value) and store it on its own (``allow_pickle``)."""
    try:
        return fn(*args)
    except UnsupportedModelError as e:
        if getattr(e, "part", None) is None:
            e.part, e.reason = est, str(e)
        if ctx.path == "value" or getattr(e, "located", False):
            raise
        err = UnsupportedModelError(f"{_where(ctx, est)}: {e}")
        err.located = True
        err.part, err.reason = e.part, e.reason
        raise err from None


def transform_step(est, ctx, x):
    """Exports a transformer applied to value x; returns the new value name."""
    return located(ctx, est, _transform_step, est, ctx, x)


def _transform_step(est, ctx, x):
    fn = lookup(est).get("transformer")
    if fn is None:
        raise UnsupportedModelError(
            f"{type(est).__name__} cannot be used as an intermediate pipeline step (it has no "
            "transform)"
        )
    ctx.steps.append(type(est).__name__)
    return ctx.run_step(fn, est, x)


def export_estimator(est, ctx, x):
    """Exports any supported estimator as the last step; returns a Head."""
    return located(ctx, est, _export_estimator, est, ctx, x)


def _export_estimator(est, ctx, x):
    roles = lookup(est)
    if "predictor" in roles:
        if type(est).__name__ == "Pipeline":
            return roles["predictor"](est, ctx, x)
        ctx.steps.append(type(est).__name__)
        return ctx.run_step(roles["predictor"], est, x)
    ctx.steps.append(type(est).__name__)
    return transform_head(ctx, ctx.run_step(roles["transformer"], est, x))


def transform_head(ctx, value):
    """The Head of a model whose ``transform`` returns ``value`` (in the dtype of the
    estimator that computed it, ``ctx.value_dtypes``)."""
    dtype = ctx.value_dtypes.get(value)
    return Head({"transform": (value, False)}, "transformer",
                dtypes=None if dtype is None else {"transform": dtype})


def as_float64(a, what):
    """A dense float64 copy of a fitted array (float32 widens exactly); refuses non-finite."""
    if hasattr(a, "toarray"):
        a = a.toarray()
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise UnsupportedModelError(f"{what} has dtype {arr.dtype}; expected numbers")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise UnsupportedModelError(f"{what} contains NaN or infinity; the model cannot predict")
    return arr
