"""Input adaptation: whatever the caller passes becomes a 2-D C-contiguous float32/float64 array
with the model's columns, before the single native call.

scikit-learn conventions kept here: float32 stays float32 and float64 stays float64; every other
numeric dtype (ints, bools, float16) is converted to float64; 1-D input is refused; a pandas
DataFrame is matched to the model's ``feature_names_in_`` by column name. pandas is never
imported: a DataFrame is recognised by its type's name and module.
"""

import warnings
from itertools import repeat

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


def _from_dataframe(X, feature_names, model_name, categories=None, unseen=None):
    if feature_names is not None:
        X = _by_name(X, feature_names, model_name)
    if categories:
        return _with_category_codes(X, categories, model_name, unseen)
    dtypes = set(X.dtypes)
    target = _F32 if dtypes == {_F32} else _F64
    try:
        return X.to_numpy(dtype=target, na_value=np.nan)
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
        X = _from_dataframe(X, model._feature_names(), model_name, *model._pandas_categories())
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
        self._name = None  # the model's name in messages, read on first use
        self._luts = {}  # pandas CategoricalDtype -> codes of its categories

    # -- one column ---------------------------------------------------------------------
    def _codes(self, col, j, name, model_name):
        """Codes (float64) of string column j; ``col`` is a pandas Series or a 1-D array."""
        table = self.tables[j]
        dtype = getattr(col, "dtype", None)
        if getattr(dtype, "name", None) == "category":
            key = (j, dtype)
            lut = self._luts.get(key)
            if lut is None:
                cats = np.asarray(dtype.categories, dtype=object)
                lut = self._lookup(cats, table, j, name, model_name)
                if len(self._luts) > 64:
                    self._luts.clear()
                self._luts[key] = lut
            codes = np.asarray(col.codes)
            out = lut.take(np.maximum(codes, 0))
            out[codes < 0] = np.nan  # a missing value of a category column is NaN to sklearn
            return out
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
        rest = np.flatnonzero(out == _UNKNOWN_CODE)
        if rest.size:
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
            names = self.feature_names
            if names is not None:
                X = _by_name(X, names, model_name)
            n, m = X.shape
            # the columns' own arrays (numpy arrays or pandas extension arrays), without a
            # Series each: DataFrame._get_column_array where pandas has it (a tenth of the
            # cost of items() on a one-row frame)
            get = getattr(X, "_get_column_array", None)
            cols = ([get(j) for j in range(m)] if get is not None
                    else [col.array for _, col in X.items()])
            col_names = list(X.columns)
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
