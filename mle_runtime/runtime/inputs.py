"""Input adaptation: whatever the caller passes becomes a 2-D C-contiguous float32/float64 array
with the model's columns, before the single native call.

scikit-learn conventions kept here: float32 stays float32 and float64 stays float64; every other
numeric dtype (ints, bools, float16) is converted to float64; 1-D input is refused; a pandas
DataFrame is matched to the model's ``feature_names_in_`` by column name. pandas is never
imported: a DataFrame is recognised by its type's name and module.
"""

import warnings
from collections.abc import Iterable, Mapping
from itertools import repeat
from numbers import Number

import numpy as np

from mle_runtime.errors import InputError

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def _is_dataframe(X):
    t = type(X)
    if t.__name__ == "DataFrame" and t.__module__.startswith("pandas"):
        return True
    # subclasses (geopandas.GeoDataFrame, ...) are DataFrames too
    return any(c.__name__ == "DataFrame" and c.__module__.startswith("pandas")
               for c in t.__mro__[1:])


def _by_name(X, names, model_name):
    """X's columns in the order of the model's feature names (refusing missing and unseen
    columns, as scikit-learn does)."""
    columns = list(X.columns)
    names = list(names)
    if columns != names:
        missing = [c for c in names if c not in set(columns)]
        if missing:
            raise InputError(
                f"X is missing column(s) {missing} that {model_name} was fitted with; "
                f"expected columns {names}."
            )
        unseen = [c for c in columns if c not in set(names)]
        if unseen:
            raise InputError(
                f"X has column(s) {unseen} that {model_name} was not fitted with "
                "(scikit-learn refuses them too); drop them before predicting."
            )
        X = X[names]  # reorder by name
    return X


class FrameColumns:
    """A DataFrame's columns in a model's order (its ``feature_names_in_``).

    The names are compared once per column index: the values of the last column index found
    in the model's order are kept (pandas shares them between a frame and its row slices, and
    never changes an index's values in place), so the next frame with the same columns skips
    the comparison, which costs more than the prediction of one row.
    """

    __slots__ = ("names", "_known")

    def __init__(self, names):
        self.names = None if names is None else list(names)
        self._known = None

    def ordered(self, X, model_name):
        """X with its columns in the model's order (X itself when they already are)."""
        names = self.names
        if names is None:
            return X
        data = getattr(X.columns, "_data", None)
        if data is not None and data is self._known:
            return X
        ordered = _by_name(X, names, model_name)
        if ordered is X and data is not None:
            self._known = data
        return ordered


def frame_arrays(X):
    """The columns of DataFrame X in its own order: 1-D numpy arrays (views of its blocks) or
    pandas extension arrays. Read from the frame's blocks where pandas has them (one step per
    block instead of one pandas call per column), else column by column."""
    m = len(X.columns)
    blocks = getattr(getattr(X, "_mgr", None), "blocks", None)
    if blocks is not None:
        cols = [None] * m
        try:
            for b in blocks:
                values = b.values
                locs = b.mgr_locs.indexer
                pos = range(m)[locs] if isinstance(locs, slice) else np.asarray(locs).tolist()
                if type(values) is np.ndarray and values.ndim == 2 and len(values) == len(pos):
                    for k, j in enumerate(pos):
                        cols[j] = values[k]
                elif getattr(values, "ndim", 2) == 1 and len(pos) == 1:
                    cols[pos[0]] = values
                else:  # a 2-D extension array (datetimes): read column by column
                    cols = None
                    break
        except (AttributeError, TypeError, ValueError, IndexError):
            cols = None
        if cols is not None and all(c is not None for c in cols):
            return cols
    get = getattr(X, "_get_column_array", None)
    if get is not None:
        return [get(j) for j in range(m)]
    return [col.array for _, col in X.items()]


def _numeric_blocks(X):
    """DataFrame X as a float matrix filled block by block when every block is a 2-D numpy
    array of numbers (to_numpy's generic conversion costs tens of microseconds on a one-row
    frame); None otherwise. float32 when every column is float32, else float64, as
    ``X.to_numpy`` gives for such frames."""
    try:
        blocks = X._mgr.blocks
        if len(blocks) == 1:  # one array of numbers (m, n): the matrix is its transpose
            values = blocks[0].values
            if type(values) is np.ndarray and values.ndim == 2:
                if values.dtype == _F64 or values.dtype == _F32:
                    return np.ascontiguousarray(values.T)
                if values.dtype.kind in "biuf":
                    return np.ascontiguousarray(values.T, dtype=_F64)
                return None
        parts = [(b.values, b.mgr_locs.indexer) for b in blocks]
    except AttributeError:
        return None
    if not parts:
        return None
    target = _F32
    for values, _ in parts:
        if type(values) is not np.ndarray or values.ndim != 2 or values.dtype.kind not in "biuf":
            return None
        if values.dtype != _F32:
            target = _F64
    out = np.empty((len(X.index), len(X.columns)), dtype=target)
    for values, locs in parts:
        out[:, locs] = values.T
    return out


def _from_dataframe(X, frame, model_name, categories=None, unseen=None):
    X = frame.ordered(X, model_name)
    if categories:
        return _with_category_codes(X, categories, model_name, unseen)
    out = _numeric_blocks(X)
    if out is not None:
        return out
    dtypes = set(X.dtypes)
    target = _F32 if dtypes == {_F32} else _F64
    try:
        return np.ascontiguousarray(X.to_numpy(dtype=target, na_value=np.nan))
    except (TypeError, ValueError) as e:
        raise InputError(
            f"cannot convert the DataFrame's columns to floating point ({e}); {model_name} "
            "expects numeric columns."
        ) from None


def _category_codes(col, categories, name, model_name, unseen=None):
    """Category codes of one pandas column as float64 (missing and unseen values: NaN).

    ``categories`` is the list the model was trained with (the code of a value is its position
    in it, as ``col.cat.set_categories(categories)`` gives) or None (the column's own codes).
    Columns without a category dtype are taken as codes already. ``unseen="error"`` refuses
    values outside ``categories`` (otherwise they become NaN, i.e. missing).
    """
    dtype = col.dtype
    if getattr(dtype, "name", None) != "category":
        try:
            return col.to_numpy(dtype=_F64, na_value=np.nan)
        except (TypeError, ValueError) as e:
            raise InputError(
                f"column {name!r} of X must hold category codes or have a pandas 'category' "
                f"dtype ({model_name} was trained with it as a categorical feature); converting "
                f"it to numbers failed: {e}") from None
    if categories is not None:
        known = col.cat.set_categories(categories)
        if unseen == "error":
            bad = known.isna().to_numpy() & ~col.isna().to_numpy()
            if bad.any():
                raise InputError(
                    f"column {name!r} of X holds categories that {model_name} did not see in "
                    f"training: {sorted(set(map(str, col[bad].unique())))[:10]}; known "
                    f"categories: {list(categories)[:20]}. Map them to a known category or "
                    "to a missing value first.")
        col = known
    codes = col.cat.codes.to_numpy().astype(_F64)
    codes[codes < 0] = np.nan
    return codes


def _with_category_codes(X, categories, model_name, unseen=None):
    out = np.empty(X.shape, dtype=_F64)
    for j, name in enumerate(X.columns):
        col = X.iloc[:, j]
        if name in categories:
            out[:, j] = _category_codes(col, categories[name], name, model_name, unseen)
            continue
        try:
            out[:, j] = col.to_numpy(dtype=_F64, na_value=np.nan)
        except (TypeError, ValueError) as e:
            raise InputError(
                f"cannot convert column {name!r} of the DataFrame to floating point ({e}); "
                f"{model_name} expects numeric columns there.") from None
    return out


def as_matrix(X, model):
    """Returns X as a 2-D C-contiguous float32/float64 ndarray (no copy when it already is one).

    ``model`` is the proxy (for its feature names and name in messages, read only when
    needed). The column count is checked by the native plan, which names the model.
    """
    if type(X) is np.ndarray:
        dt = X.dtype
        if (dt is _F64 or dt is _F32 or dt == _F64 or dt == _F32) and X.ndim == 2 and X.shape[0]:
            return X if X.flags.c_contiguous else np.ascontiguousarray(X)
    model_name = model._summary()
    if _is_dataframe(X):
        rules = model._rules()
        X = _from_dataframe(X, rules.frame, model_name, rules.categories, rules.unseen)
        if X.shape[0]:  # C-contiguous float32/float64 by construction
            return X
    elif hasattr(X, "tocsr") and hasattr(X, "nnz"):
        raise InputError(
            f"{model_name} got a sparse matrix; mle_runtime models take dense input. "
            "Convert it with X.toarray() first."
        )
    arr = np.asarray(X)
    if arr.ndim == 1 and model._rules().vector:  # the input rule "vector" (IsotonicRegression)
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        if arr.ndim == 0:
            raise InputError(
                f"Expected 2D array, got scalar array instead:\narray={arr}.\n"
                "Reshape your data either using array.reshape(-1, 1) if your data has a single "
                "feature or array.reshape(1, -1) if it contains a single sample."
            )
        if arr.ndim == 1:
            raise InputError(
                f"Expected 2D array, got 1D array instead:\narray={arr}.\n"
                "Reshape your data either using array.reshape(-1, 1) if your data has a single "
                "feature or array.reshape(1, -1) if it contains a single sample."
            )
        raise InputError(f"Found array with dim {arr.ndim}, while dim <= 2 is required.")
    kind = arr.dtype.kind
    if arr.dtype == _F32 or arr.dtype == _F64:
        pass
    elif kind in "biuf":
        arr = arr.astype(_F64)
    elif kind == "O":
        try:
            arr = arr.astype(_F64)
        except (TypeError, ValueError) as e:
            raise InputError(
                f"{model_name} expects numeric input; converting X to float64 failed: {e}"
            ) from None
    else:
        raise InputError(
            f"{model_name} expects numeric input, got an array of dtype {arr.dtype}."
        )
    if arr.shape[0] == 0:
        raise InputError(
            f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required "
            f"by {model_name}."
        )
    return np.ascontiguousarray(arr)


def as_numeric_matrix(X, model):
    """The inverse's input Y (docs/FORMAT.md, 9.8) as :func:`as_matrix` gives a numeric array:
    numbers in the transformed space, so no feature names or string columns apply (a
    DataFrame is taken by position, as scikit-learn's inverse_transform takes it)."""
    if _is_dataframe(X):
        X = X.to_numpy()
    return as_matrix(X, model)


def integer_dtype(X):
    """The integer or bool dtype scikit-learn would see for X (after ``np.asarray`` or, for a
    DataFrame, its column dtypes), or None when X is not integer/bool data."""
    if type(X) is np.ndarray:
        dt = X.dtype
    elif _is_dataframe(X):
        dtypes = [d for d in X.dtypes]
        if not dtypes or not all(isinstance(d, np.dtype) and d.kind in "biu" for d in dtypes):
            return None
        dt = np.result_type(*dtypes)
    else:
        dt = np.asarray(X).dtype
    return dt if dt.kind in "biu" else None


def check_integer_input(dtype, fill_dtypes, model_name):
    """Refuses integer/bool input where scikit-learn's SimpleImputer does (see
    ``mle_runtime.exporters.sklearn._integer_input_rule``): bool data, and data that the fill
    values (of these dtypes) cannot be cast to with ``casting="same_kind"``."""
    if dtype.kind == "b":
        raise InputError(
            f"SimpleImputer does not support data with dtype {dtype}. Please provide either a "
            "numeric array (with a floating point or integer dtype) or categorical data "
            "represented either as an array with integer dtype or an array of string values "
            f"with an object dtype. (raised for {model_name})"
        )
    for fill in fill_dtypes:
        if not np.can_cast(fill, dtype, casting="same_kind"):
            raise InputError(
                f"The dtype of the filling value (i.e. {fill!r}) cannot be cast to the input "
                f"data that is {dtype!r}. Make sure that the dtypes of the input data are of "
                f"the same kind between fit and transform. (raised for {model_name})"
            )


# ---------------------------------------------------------------- string columns and encoders

_NONE_CODE = -2.0  # None in a string column (scikit-learn keeps None and NaN apart)
_UNKNOWN_CODE = -1.0  # any value outside the vocabulary (unknown strings, pd.NA, ...)


def _is_float_nan(v):
    return isinstance(v, (float, np.floating)) and v != v


_float_nan = np.frompyfunc(_is_float_nan, 1, 1)


class Encoding:
    """The input rules "strings", "unknown", "nan" and "unread" (docs/FORMAT.md, section
    9.7) of a loaded model, prepared once: a hash table per string column (its vocabulary's
    codes), the checks of unknown categories, and the columns no node reads (left
    unconverted: a dropped column may hold strings).

    A string column's values become codes in one pass over the column (``map`` of the table's
    ``get`` over the column's objects, in C); only values the table does not hold (unknown
    strings and NaN objects other than ``np.nan``) are looked at again. A pandas ``category``
    column is encoded through its categories (a handful of lookups) and its integer codes.
    """

    def __init__(self, strings, unknown, feature_names, nan=None, unread=()):
        self.nan = None if nan is None else ([int(c) for c in nan[0]], nan[1])
        self.unread = frozenset(int(c) for c in unread or ())
        self.tables = {}
        self.vocab = {}
        for col, values in strings or ():
            table = dict(zip(values, map(float, range(len(values)))))
            table[None] = _NONE_CODE
            table[np.nan] = np.nan  # found by identity: the NaN pandas and numpy hand out
            self.tables[int(col)] = table
            self.vocab[int(col)] = np.array(values, dtype=str) if values else None
        self.checks = []
        for mode, cols, known, text in unknown or ():
            known = [np.array([np.nan if k is None else k for k in ks], dtype=np.float64)
                     for ks in known]
            self.checks.append((mode, [int(c) for c in cols], known, text))
        self.feature_names = feature_names
        self.frame = FrameColumns(feature_names)
        self._name = None  # the model's name in messages, read on first use
        self._luts = {}  # pandas CategoricalDtype -> codes of its categories

    # -- one column ---------------------------------------------------------------------
    def _codes(self, col, j, name, model_name):
        """Codes (float64) of string column j; ``col`` is a pandas Series or a 1-D array."""
        table = self.tables[j]
        dtype = getattr(col, "dtype", None)
        if type(dtype).__name__ == "CategoricalDtype":
            key = (j, dtype)
            lut = self._luts.get(key)
            if lut is None:
                cats = np.asarray(dtype.categories, dtype=object)
                # code -1 (a missing value, NaN to scikit-learn) takes the last entry
                lut = np.append(self._lookup(cats, table, j, name, model_name), np.nan)
                if len(self._luts) > 64:
                    self._luts.clear()
                self._luts[key] = lut
            return lut.take(np.asarray(col.codes))
        if isinstance(dtype, np.dtype) and dtype.kind == "U":
            arr = np.asarray(col)
            vocab = self.vocab[j]
            if vocab is None:
                return np.full(arr.shape[0], _UNKNOWN_CODE)
            pos = np.searchsorted(vocab, arr)
            pos_c = np.minimum(pos, vocab.shape[0] - 1)
            return np.where(vocab[pos_c] == arr, pos_c, _UNKNOWN_CODE).astype(np.float64)
        if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
            raise InputError(
                f"column {name!r} of X holds numbers ({dtype}), but {model_name} was fitted with "
                "strings there; pass the column's strings (an object or string column).")
        if hasattr(col, "to_numpy"):
            obj = col.to_numpy(dtype=object)
        else:
            obj = np.asarray(col, dtype=object)
        return self._lookup(obj, table, j, name, model_name)

    @staticmethod
    def _lookup(obj, table, j, name, model_name):
        try:
            out = np.fromiter(map(table.get, obj, repeat(_UNKNOWN_CODE)), dtype=np.float64,
                              count=obj.shape[0])
        except TypeError as e:  # an unhashable value
            raise InputError(f"column {name!r} of X holds a value that cannot be a category "
                             f"of {model_name}: {e}") from None
        unknown = out == _UNKNOWN_CODE
        if np.count_nonzero(unknown):
            rest = unknown.nonzero()[0]
            nan = _float_nan(obj[rest]).astype(bool)
            out[rest[nan]] = np.nan
        return out

    # -- the matrix ---------------------------------------------------------------------
    def as_matrix(self, X, model):
        """X as a 2-D C-contiguous float matrix with string columns as codes; float32 when
        every numeric column is float32 (so float32 steps compute in float32, as they do in
        scikit-learn on those columns), else float64."""
        if (not self.tables and type(X) is np.ndarray and X.ndim == 2 and X.shape[0]
                and (X.dtype == _F64 or X.dtype == _F32)):
            out = X if X.flags.c_contiguous else np.ascontiguousarray(X)
            return self._checked(out, None)
        model_name = self._name
        if model_name is None:
            model_name = self._name = model._summary()
        if _is_dataframe(X):
            X = self.frame.ordered(X, model_name)
            cols = frame_arrays(X)
            n, m = len(X.index), len(cols)
            col_names = self.frame.names or list(X.columns)
        else:
            if hasattr(X, "tocsr") and hasattr(X, "nnz"):
                raise InputError(f"{model_name} got a sparse matrix; mle_runtime models take "
                                 "dense input. Convert it with X.toarray() first.")
            arr = np.asarray(X)
            if arr.ndim != 2:
                return as_matrix(arr, model)  # its errors for scalars and 1-D input
            n, m = arr.shape
            cols = [arr[:, j] for j in range(m)]
            col_names = list(range(m))
        if n == 0:
            raise InputError(f"Found array with 0 sample(s) (shape={(n, m)}) while a minimum "
                             f"of 1 is required by {model_name}.")
        if m != model.n_features_in_:
            raise InputError(f"X has {m} features, but {model_name} is expecting "
                             f"{model.n_features_in_} features as input.")
        skip = self.unread
        numeric = [c.dtype for j, c in enumerate(cols) if j not in self.tables and j not in skip]
        target = _F32 if numeric and all(d == _F32 for d in numeric) else _F64
        out = np.empty((n, m), dtype=target)
        for j, col in enumerate(cols):
            if j in self.tables:
                out[:, j] = self._codes(col, j, col_names[j], model_name)
                continue
            if j in skip:  # no node reads it
                out[:, j] = 0.0
                continue
            try:
                dt = col.dtype
                if isinstance(dt, np.dtype) and dt.kind in "biuf":
                    out[:, j] = np.asarray(col)
                elif hasattr(col, "to_numpy"):  # pandas extension dtypes: pd.NA is NaN
                    out[:, j] = col.to_numpy(dtype=target, na_value=np.nan)
                else:
                    out[:, j] = col.astype(target)
            except (TypeError, ValueError) as e:
                raise InputError(
                    f"cannot convert column {col_names[j]!r} of X to floating point ({e}); "
                    f"{model_name} expects numbers there.") from None
        return self._checked(out, cols)

    def _checked(self, out, cols):
        for mode, check_cols, known, text in self.checks:
            self._check(out, cols, mode, check_cols, known, text)
        if self.nan is not None and self.nan[0] and np.isnan(out[:, self.nan[0]]).any():
            raise InputError(
                f"Input X contains NaN. {self.nan[1]} does not accept missing values encoded as "
                "NaN natively. Impute them first (for example with a SimpleImputer step in the "
                "pipeline) or drop the rows that contain them.")
        return out

    def _check(self, out, cols, mode, check_cols, known, text):
        bad_cols = []
        for k, (j, ks) in enumerate(zip(check_cols, known)):
            v = out[:, j]
            ok = np.isin(v, ks)
            if np.isnan(ks).any():
                ok |= np.isnan(v)
            if ok.all():
                continue
            if mode == "warn":
                bad_cols.append(k)
                continue
            bad = ~ok
            raw = out[:, j] if cols is None else cols[j]
            raw = raw.to_numpy(dtype=object) if hasattr(raw, "to_numpy") else np.asarray(raw)
            values = raw[bad]
            if j in self.tables:
                seen = list(dict.fromkeys(v for v in values.tolist() if not _is_float_nan(v)))
                if np.isnan(v[bad]).any():
                    seen.append(np.nan)
            else:
                seen = list(np.unique(v[bad].astype(np.float64)))  # as scikit-learn lists them
            raise InputError(f"Found unknown categories {seen} in column {k} during transform")
        if bad_cols:
            warnings.warn(f"Found unknown categories in columns {bad_cols} during transform. "
                          f"{text}", UserWarning, stacklevel=4)


# ---------------------------------------------------------------- label inputs

def _labels_1d(y, what="y"):
    """y as scikit-learn's ``column_or_1d`` takes it (a list, array, pandas Series, or one
    column)."""
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") and not _is_dataframe(y) else y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InputError(f"{what} should be a 1d array, got an array of shape {arr.shape} "
                         "instead.")
    return arr


def _is_empty(y):
    """Whether y has no rows (LabelEncoder then returns an empty float array)."""
    try:
        return len(y) == 0
    except TypeError:
        return False


def _target_kind(a, named=True):
    """scikit-learn's type_of_target of 1-D labels, "binary" or "multiclass"; refuses what
    label_binarize refuses (unknown and continuous targets, NaN and infinity)."""
    if a.size == 0:
        return "binary"
    if a.dtype == object and not isinstance(a.flat[0], str):
        raise InputError("The type of target data is not known")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            what = "Input y" if named else "Input"  # type_of_target's message names no input
            raise InputError(f"{what} contains NaN." if np.isnan(a).any() else
                             f"{what} contains infinity or a value too large for {a.dtype!r}.")
        if (a != a.astype(np.int64).astype(a.dtype)).any():
            raise InputError("continuous target data is not supported with label binarization")
    return "multiclass" if len(np.unique(a)) > 2 else "binary"


class LabelInputs:
    """The input rules "target", "sets", "dicts" and "new_missing" (docs/FORMAT.md, 9.7):
    inputs that are not matrices of numbers, turned into one in a single pass here.

    - "target" [k, mode]: y, one label per row (LabelEncoder, LabelBinarizer), becomes the
      column of the labels' positions in label set k. Mode "error" (LabelEncoder.transform)
      first casts y to the labels' dtype, as scikit-learn does, and refuses labels outside
      the set ("y contains previously unseen labels: ..."); mode "ignore" gives them -1.
    - "sets" k: an iterable of label sets (MultiLabelBinarizer) becomes the indicator matrix
      over label set k; labels outside it are ignored with scikit-learn's warning.
    - "dicts" [names, separator]: a list of mappings (DictVectorizer) becomes the matrix of
      the named features: a string value v of key f is the feature "f<separator>v" with value
      1, an iterable of strings one such feature per string, a number (or None: NaN) the
      feature f; features the names do not hold are ignored, repeated ones summed.
    - "new_missing" [columns]: NaN in these input columns (no missing value at fit) is
      refused as MissingIndicator(error_on_new=True) refuses it.
    - "hashed" [input_type, alternate_sign, dtype]: samples of named features (FeatureHasher)
      become their hashed rows (``runtime/hashing.py``).
    """

    def __init__(self, inputs, labels):
        self.target = inputs.get("target")
        self.sets = inputs.get("sets")
        self.dicts = inputs.get("dicts")
        self.new_missing = inputs.get("new_missing")
        self.hashed = inputs.get("hashed")  # FeatureHasher's samples (runtime/hashing.py)
        k = self.target[0] if self.target else self.sets
        self.classes = labels[k] if k is not None else None
        if self.classes is not None:
            self.table = {v: float(i) for i, v in enumerate(self.classes.tolist())}
        if self.dicts:
            self.vocab = {n: j for j, n in enumerate(self.dicts[0])}

    @staticmethod
    def of(inputs, labels):
        if any(k in inputs for k in ("target", "sets", "dicts", "new_missing", "hashed")):
            return LabelInputs(inputs, labels)
        return None

    def adapter(self, as_matrix):
        """The input adapter of a method (as_matrix(X, model) -> matrix) under these rules."""
        if self.target:
            return self._target_error if self.target[1] == "error" else self._target_ignore
        if self.sets is not None:
            return self._sets
        if self.dicts:
            return self._dicts
        if self.hashed:
            # cold start: only FeatureHasher models need the hashing (and runtime.text)
            from mle_runtime.runtime.hashing import HashedInput

            hashed = []

            def hashed_rows(X, model):
                if not hashed:
                    hashed.append(HashedInput(self.hashed, model._native.n_features))
                return hashed[0].matrix(X)
            return hashed_rows
        missing = np.asarray(self.new_missing, dtype=np.intp)

        def checked(X, model):
            out = as_matrix(X, model)
            bad = missing[np.isnan(out[:, missing]).any(axis=0)]
            if bad.size:
                raise InputError(f"The features {bad} have missing values in transform but "
                                 "have no missing values in fit.")
            return out
        return checked

    def inverse(self, method):
        """The inverse_transform of a method reading Y under these rules: LabelEncoder's
        refuses float indices as numpy's take does (after the unseen-label check, in the
        graph); with "sets" it returns a list of label tuples, with "dicts" a list of dicts
        (the nonzero entries by feature name), as scikit-learn's do."""
        if self.target:
            if self.target[1] != "error":
                return method

            def label_encoder(Y, *, n_threads=None):
                if _is_empty(Y):
                    return np.asarray([])
                out = method(Y, n_threads=n_threads)
                dt = np.asarray(Y).dtype
                if dt.kind == "f":
                    raise TypeError(f"Cannot cast array data from dtype('{dt}') to "
                                    "dtype('int64') according to the rule 'same_kind'")
                return out
            return label_encoder
        if self.sets is not None:
            classes = self.classes

            def multilabel(Y, *, n_threads=None):
                arr = np.asarray(Y)
                if arr.ndim == 2 and arr.shape[1] != len(classes):
                    raise InputError(f"Expected indicator for {len(classes)} classes, but got "
                                     f"{arr.shape[1]}")
                out = method(Y, n_threads=n_threads)
                unexpected = np.setdiff1d(arr if arr.dtype.kind in "biuf" else out, [0, 1])
                if len(unexpected) > 0:
                    raise InputError("Expected only 0s and 1s in label indicator. Also got "
                                     f"{unexpected}")
                return [tuple(classes.compress(row)) for row in out]
            return multilabel
        if self.dicts:
            names = self.dicts[0]

            def dicts(X, *, n_threads=None):
                out = method(X, n_threads=n_threads)  # checked: width, NaN, infinity
                arr = np.asarray(X.to_numpy() if _is_dataframe(X) else X)
                # the caller's own numbers (their dtype) when the inverse is the identity
                if (arr.shape != out.shape or arr.dtype.kind not in "biuf"
                        or not np.array_equal(arr, out)):
                    arr = out
                return [{names[j]: row[j] for j in np.flatnonzero(row)} for row in arr]
            return dicts
        return method

    def checked_output(self, method, name, model):
        """LabelBinarizer.transform under the rule "target" [k, "ignore", output]: y's type
        of target checked as scikit-learn's label_binarize checks it (continuous and
        multi-column y refused with its messages), and y holding more than two distinct labels
        (a multiclass y for a binary fit) runs ``output`` (one column per label) instead."""
        if not self.target or name != "transform":
            return method
        if self.target[1] == "error":  # LabelEncoder: empty y gives an empty float array
            def label_encoder(y, *, n_threads=None):
                if _is_empty(y):
                    return np.asarray([])
                return method(y, n_threads=n_threads)
            return label_encoder
        alt = self.target[2] if len(self.target) > 2 else None

        def label_binarizer(y, *, n_threads=None):
            arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
            if arr.ndim == 2 and arr.shape[1] > 1:
                if arr.dtype.kind in "biuf" and np.isin(arr, (0, 1)).all():
                    raise InputError("The object was not fitted with multilabel input.")
                raise InputError("Multioutput target data is not supported with label "
                                 "binarization")
            if _target_kind(arr.ravel(), False) == "multiclass" and alt is not None:
                return model._method_for_output(alt)(arr, n_threads=n_threads)
            return method(arr, n_threads=n_threads)
        return label_binarizer

    def _target_error(self, y, model):
        """LabelEncoder.transform: column_or_1d(y, dtype=classes_.dtype), then each label's
        position, refusing unseen ones with scikit-learn's message."""
        arr = _labels_1d(y)
        classes = self.classes
        if arr.dtype.kind == "f" and classes.dtype.kind != "O" and np.isnan(arr).any():
            raise InputError("Input y contains NaN.")
        try:
            arr = arr.astype(classes.dtype, copy=False)
        except (TypeError, ValueError) as e:
            raise InputError(f"y cannot be converted to the labels' dtype "
                             f"{classes.dtype}: {e}") from None
        get = self.table.get
        codes = np.fromiter(map(get, arr.tolist(), repeat(-1.0)), dtype=np.float64,
                            count=arr.shape[0])
        bad = np.flatnonzero(codes < 0)
        if bad.size:
            if arr.dtype.kind in "biuf":  # scikit-learn lists the distinct unseen values
                seen = list(np.setdiff1d(arr, classes))
                raise InputError(f"y contains previously unseen labels: {seen}")
            raise InputError(f"y contains previously unseen labels: {arr[bad[0]]!r}")
        return codes.reshape(-1, 1)

    def _target_ignore(self, y, model):
        """LabelBinarizer.transform: each label's position (-1 outside the labels)."""
        arr = _labels_1d(y)
        get = self.table.get
        out = np.fromiter(map(get, arr.tolist(), repeat(-1.0)), dtype=np.float64,
                          count=arr.shape[0])
        return out.reshape(-1, 1)

    def _sets(self, y, model):
        """MultiLabelBinarizer.transform: the indicator matrix of the label sets."""
        get = self.table.get
        rows, unknown = [], set()
        for labels in y:
            idx = []
            for label in labels:
                i = get(label)
                if i is None:
                    unknown.add(label)
                else:
                    idx.append(int(i))
            rows.append(idx)
        if unknown:
            warnings.warn(f"unknown class(es) {sorted(unknown, key=str)} will be ignored",
                          UserWarning, stacklevel=3)
        out = np.zeros((len(rows), len(self.table)), dtype=np.float64)
        for r, idx in enumerate(rows):
            out[r, idx] = 1.0
        return out

    def _dicts(self, X, model):
        """DictVectorizer.transform (dtype float64), dense."""
        if isinstance(X, Mapping):
            X = [X]
        vocab, sep = self.vocab, self.dicts[1]
        X = list(X)
        if not X:
            raise InputError("Sample sequence X is empty.")
        out = np.zeros((len(X), len(vocab)), dtype=np.float64)
        for r, x in enumerate(X):
            if not isinstance(x, Mapping):
                raise InputError(
                    f"{model._summary()} takes an iterable of dicts (feature name -> value), "
                    f"one per sample; sample {r} is a {type(x).__name__}. Pass dicts, as to "
                    "DictVectorizer.transform.")
            row = out[r]
            for f, v in x.items():
                if isinstance(v, str):
                    j = vocab.get(f"{f}{sep}{v}")
                    if j is not None:
                        row[j] += 1.0
                elif isinstance(v, Number) or v is None:
                    j = vocab.get(f) if isinstance(f, str) else None
                    if j is not None:
                        row[j] += np.float64(v)
                elif not isinstance(v, Mapping) and isinstance(v, Iterable):
                    for vv in v:
                        if not isinstance(vv, str):
                            raise TypeError(f"Unsupported type {type(vv)} in iterable value. "
                                            "Only iterables of string are supported.")
                        j = vocab.get(f"{f}{sep}{vv}")
                        if j is not None:
                            row[j] += 1.0
                else:
                    raise TypeError(f"Unsupported value Type {type(v)} for {f}: {v}.\n"
                                    f"{type(v)} objects are not supported.")
        return out
