"""pandas objects stored natively in value files (docs/FORMAT.md, section 17), without pickle.

:mod:`mle_runtime.format.values` hands every object whose type comes from the ``pandas``
package to :func:`encode`, and every node whose tag starts with ``"pd."`` to :func:`decode`.
pandas is imported only there: loading a file that holds no pandas object never imports it.

Numbers, datetimes and masks are stored as ``["array", ...]`` nodes of the tensor data, so
large columns are memory-mapped with ``mmap_mode='r'``/``'c'``; object columns are stored
element by element (``["objarray", ...]``); every part of a pandas object that is itself a
value (an index, an extension array, a name, ``attrs``) is stored through the codec, so an
object seen twice is stored once and loads as one object.

Nodes (``V`` is a node of any value, ``A`` an array node, ``I`` an index node, ``T`` a time
zone node of :meth:`values.Encoder.tz`, ``unit`` one of ``"s"``, ``"ms"``, ``"us"``, ``"ns"``):

- ``["pd.frame", I index, I columns, [A, ...] data, V attrs, allows_duplicate_labels]``:
  ``data`` lists the columns in order; a 2-D numpy array ``(rows, k)`` holds ``k``
  consecutive columns of one numpy dtype, a 1-D array or extension array one column;
- ``["pd.series", A values, I index, V name, V attrs, allows_duplicate_labels]``;
- ``["pd.range", start, stop, step, V name]`` (RangeIndex);
- ``["pd.index", A values, V name, freq]``: an Index of the values' dtype (numpy dtypes,
  Categorical: CategoricalIndex, datetimes: DatetimeIndex, timedeltas: TimedeltaIndex,
  periods: PeriodIndex, intervals: IntervalIndex); ``freq`` is null or a frequency string;
- ``["pd.multi", [I level, ...], [A codes, ...], [V name, ...], sortorder]`` (MultiIndex);
- ``["pd.cat", I categories, A codes, ordered]`` (Categorical);
- ``["pd.masked", dtype name, A data, A mask]`` (Int8..UInt64, Float32, Float64, boolean);
- ``["pd.str", storage, na, V elements]`` (StringDtype; ``na`` is ``"nan"`` or ``"NA"``,
  elements an object array of str and None);
- ``["pd.dt", A utc, T tz]`` (tz-aware DatetimeArray; ``utc`` a datetime64[unit] array);
- ``["pd.npa", kind, A values]`` (a bare NumpyExtensionArray, or a naive DatetimeArray or
  TimedeltaArray: ``kind`` is ``"numpy"``, ``"datetime"`` or ``"timedelta"``);
- ``["pd.period", freq, A ordinals]`` (PeriodArray), ``["pd.interval", closed, I left,
  I right]`` (IntervalArray);
- scalars: ``["pd.ts", value, unit, T tz]`` (Timestamp, ``value`` counted in ``unit`` since
  the epoch, UTC), ``["pd.td", value, unit]`` (Timedelta), ``["pd.nat"]``, ``["pd.na"]``,
  ``["pd.per", ordinal, freq]`` (Period), ``["pd.iv", V left, V right, closed]`` (Interval);
- dtypes: ``["pd.dtype", "category", V categories, ordered]``, ``["pd.dtype", "datetimetz",
  unit, T tz]``, ``["pd.dtype", "string", storage, na]``, ``["pd.dtype", "masked", name]``,
  ``["pd.dtype", "period", freq]``, ``["pd.dtype", "interval", V subtype, closed]``.

Not stored natively (``values._Problem``: refused, or pickled with ``allow_pickle=True``):
sparse arrays, Arrow-backed arrays (``ArrowDtype``), frequencies that do not survive their
string form (custom business days), other pandas objects (offsets, groupbys, stylers...) and
subclasses of pandas classes.

Decoding trusts nothing: every part's type, dtype, length and range is checked, pandas'
constructors validate what they build (codes against categories, frequencies against
values), and any error becomes ``FormatError``.
"""

import math

import numpy as np

from mle_runtime.errors import FormatError, MLEError, UnsupportedModelError

_UNITS = ("s", "ms", "us", "ns")
_INT64_MIN = -(1 << 63)
_INT64_END = 1 << 63
_MASKED = {  # pandas masked dtype name -> numpy dtype of its data
    "Int8": "int8", "Int16": "int16", "Int32": "int32", "Int64": "int64",
    "UInt8": "uint8", "UInt16": "uint16", "UInt32": "uint32", "UInt64": "uint64",
    "Float32": "float32", "Float64": "float64", "boolean": "bool",
}
_CLOSED = ("left", "right", "both", "neither")
# Bytes per element that pandas allocates when it builds a hash table of labels (uniqueness
# of categories and MultiIndex levels), and when it validates or converts an array
# (docs/FORMAT.md, section 18): charged to the load budget before pandas runs.
_HASH_TABLE = 40
SUPPORTED = ("DataFrame, Series, Index (numpy dtypes, object, str/string), RangeIndex, "
             "DatetimeIndex, TimedeltaIndex, CategoricalIndex, PeriodIndex, IntervalIndex, "
             "MultiIndex; Categorical, nullable integer/float/boolean, string, datetime "
             "(naive or with a time zone), timedelta, period and interval arrays; Timestamp, "
             "Timedelta, Period, Interval, NaT, NA; pandas dtype objects of those arrays")


def _problem(reason, path):
    # values imports this module: importing it back at module level would be a cycle
    from mle_runtime.format.values import _Problem

    return _Problem(reason, path)


# --------------------------------------------------------------------------- encoding --------

def encode(enc, obj, path, depth):
    """The node of pandas object ``obj`` (raises ``values._Problem`` for what cannot be
    stored exactly). Every check that can refuse ``obj`` runs before any part of it is
    encoded, so a refused object leaves nothing behind in the encoder."""
    import pandas as pd

    t = type(obj)
    if t is pd.DataFrame:
        return _enc_frame(enc, obj, path, depth)
    if t is pd.Series:
        return _enc_series(enc, obj, path, depth)
    if t is pd.RangeIndex:
        return ["pd.range", obj.start, obj.stop, obj.step,
                enc.encode(obj.name, f"{path}.name", depth)]
    if t is pd.MultiIndex:
        return _enc_multi(enc, obj, path, depth)
    if t in (pd.Index, pd.DatetimeIndex, pd.TimedeltaIndex, pd.CategoricalIndex,
             pd.PeriodIndex, pd.IntervalIndex):
        return _enc_index(enc, obj, path, depth)
    if isinstance(obj, pd.api.extensions.ExtensionArray):
        return _enc_extension(enc, obj, path, depth)
    if isinstance(obj, pd.api.extensions.ExtensionDtype):
        return _enc_dtype(enc, obj, path, depth)
    if obj is pd.NaT:
        return ["pd.nat"]
    if obj is pd.NA:
        return ["pd.na"]
    if t is pd.Timestamp:
        if obj.unit not in _UNITS:
            raise _problem(f"a Timestamp of unit {obj.unit!r}", path)
        tz = enc.tz(obj.tz, path)
        return ["pd.ts", int(obj.asm8.view("i8")), obj.unit, tz]
    if t is pd.Timedelta:
        if obj.unit not in _UNITS:
            raise _problem(f"a Timedelta of unit {obj.unit!r}", path)
        return ["pd.td", int(obj.asm8.view("i8")), obj.unit]
    if t is pd.Period:
        freq = obj.freqstr
        try:
            ok = pd.Period(ordinal=obj.ordinal, freq=freq).freq == obj.freq
        except (ValueError, TypeError):
            ok = False
        if not ok:
            raise _problem(f"the frequency of {obj!r} cannot be stored as a string", path)
        return ["pd.per", int(obj.ordinal), freq]
    if t is pd.Interval:
        if obj.closed not in _CLOSED:
            raise _problem(f"an Interval closed on {obj.closed!r}", path)
        return ["pd.iv", enc.encode(obj.left, f"{path}.left", depth),
                enc.encode(obj.right, f"{path}.right", depth), obj.closed]
    raise _problem(f"pandas objects of type {_type_name(obj)} are not stored natively "
                   f"(supported: {SUPPORTED})", path)


def _type_name(obj):
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def _enc_frame(enc, df, path, depth):
    flag = bool(df.flags.allows_duplicate_labels)
    # the columns' values, gathered before anything is encoded: a run of columns of one
    # numpy dtype becomes one 2-D array, column-major so that each column is contiguous in
    # the file (as in pandas' own blocks)
    dtypes = list(df.dtypes)
    plan = []
    i, n = 0, len(dtypes)
    while i < n:
        dt = dtypes[i]
        j = i + 1
        if isinstance(dt, np.dtype) and not dt.hasobject:
            while j < n and dtypes[j] == dt:
                j += 1
        if j - i > 1:
            block = np.asfortranarray(df.iloc[:, i:j].to_numpy())
            if block.dtype != dt:  # pandas never does this; stop before writing anything
                raise _problem(f"columns {i}..{j - 1} do not convert to one {dt} array",
                               path)
            plan.append((block, f"{path}.iloc[:, {i}:{j}]"))
        else:
            plan.append((_values_of(df.iloc[:, i]), f"{path}[{df.columns[i]!r}]"))
        i = j
    index = enc.encode(df.index, f"{path}.index", depth)
    columns = enc.encode(df.columns, f"{path}.columns", depth)
    data = [enc.encode(v, p, depth) for v, p in plan]
    attrs = enc.encode(df.attrs, f"{path}.attrs", depth) if df.attrs else None
    return ["pd.frame", index, columns, data, attrs, flag]


def _values_of(s):
    """The values of a Series or Index to encode: a numpy array, or its extension array."""
    dt = s.dtype
    if isinstance(dt, np.dtype):
        a = s.to_numpy()
        return a if a.dtype == dt else np.asarray(s.array)
    return s.array


def _enc_series(enc, s, path, depth):
    flag = bool(s.flags.allows_duplicate_labels)
    values = enc.encode(_values_of(s), f"{path}.values", depth)
    index = enc.encode(s.index, f"{path}.index", depth)
    name = enc.encode(s.name, f"{path}.name", depth)
    attrs = enc.encode(s.attrs, f"{path}.attrs", depth) if s.attrs else None
    return ["pd.series", values, index, name, attrs, flag]


def _freq_of(idx, path):
    import pandas as pd

    freq = getattr(idx, "freq", None)
    if freq is None or isinstance(idx, pd.PeriodIndex):
        return None
    from pandas.tseries.frequencies import to_offset

    s = idx.freqstr
    try:
        ok = isinstance(s, str) and to_offset(s) == freq
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise _problem(f"the index frequency {freq!r} cannot be stored as a string; set "
                       "index.freq = None (or pass allow_pickle=True)", path)
    return s


def _enc_index(enc, idx, path, depth):
    freq = _freq_of(idx, path)
    values = enc.encode(_values_of(idx), f"{path}.values", depth)
    name = enc.encode(idx.name, f"{path}.name", depth)
    return ["pd.index", values, name, freq]


def _enc_multi(enc, mi, path, depth):
    levels = [enc.encode(lev, f"{path}.levels[{i}]", depth)
              for i, lev in enumerate(mi.levels)]
    codes = [enc.encode(np.asarray(c), f"{path}.codes[{i}]", depth)
             for i, c in enumerate(mi.codes)]
    names = [enc.encode(nm, f"{path}.names[{i}]", depth) for i, nm in enumerate(mi.names)]
    sortorder = mi.sortorder
    if sortorder is not None:
        sortorder = int(sortorder)
    return ["pd.multi", levels, codes, names, sortorder]


def _period_freq(freqstr, dtype, path):
    import pandas as pd

    try:
        ok = isinstance(freqstr, str) and pd.PeriodDtype(freqstr) == dtype
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise _problem(f"the period frequency of {dtype} cannot be stored as a string", path)
    return freqstr


def _enc_extension(enc, arr, path, depth):
    import pandas as pd

    dt = arr.dtype
    t = type(arr)
    if t is pd.Categorical:
        categories = enc.encode(arr.categories, f"{path}.categories", depth)
        codes = enc.encode(np.asarray(arr.codes), f"{path}.codes", depth)
        return ["pd.cat", categories, codes, bool(arr.ordered)]
    if t in (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray):
        name = dt.name
        if name not in _MASKED or type(dt) is not type(pd.api.types.pandas_dtype(name)):
            raise _problem(f"a masked array of dtype {dt}", path)
        mask = np.asarray(arr.isna(), dtype=bool)
        fill = False if name == "boolean" else (np.nan if name.startswith("Float") else 0)
        data = arr.to_numpy(dtype=dt.numpy_dtype, na_value=fill)
        return ["pd.masked", name, enc.encode(data, f"{path}.data", depth),
                enc.encode(mask, f"{path}.mask", depth)]
    if isinstance(dt, pd.StringDtype):
        storage, na = _string_dtype(dt, path)
        items = arr.to_numpy(dtype=object, na_value=None)
        if not all(x is None or type(x) is str for x in items):  # e.g. numpy.str_
            items = np.array([x if x is None else str(x) for x in items] or [], dtype=object)
        return ["pd.str", storage, na, enc.encode(items, f"{path}", depth)]
    if t is pd.arrays.DatetimeArray:
        unit = dt.unit if isinstance(dt, pd.DatetimeTZDtype) else np.datetime_data(dt)[0]
        if unit not in _UNITS:
            raise _problem(f"a datetime array of unit {unit!r}", path)
        if isinstance(dt, pd.DatetimeTZDtype):
            tz = enc.tz(dt.tz, path)
            utc = np.asarray(arr.asi8).view(f"M8[{unit}]")
            return ["pd.dt", enc.encode(utc, f"{path}", depth), tz]
        return ["pd.npa", "datetime", enc.encode(arr.to_numpy(), f"{path}", depth)]
    if t is pd.arrays.TimedeltaArray:
        return ["pd.npa", "timedelta", enc.encode(arr.to_numpy(), f"{path}", depth)]
    if t is pd.arrays.NumpyExtensionArray:
        return ["pd.npa", "numpy", enc.encode(arr.to_numpy(), f"{path}", depth)]
    if t is pd.arrays.PeriodArray:
        freq = _period_freq(arr.freqstr, dt, path)
        return ["pd.period", freq, enc.encode(np.asarray(arr.asi8), f"{path}.ordinals", depth)]
    if t is pd.arrays.IntervalArray:
        if dt.closed not in _CLOSED:
            raise _problem(f"an interval array closed on {dt.closed!r}", path)
        return ["pd.interval", dt.closed, enc.encode(arr.left, f"{path}.left", depth),
                enc.encode(arr.right, f"{path}.right", depth)]
    raise _problem(f"pandas arrays of dtype {dt} ({type(arr).__name__}) are not stored "
                   f"natively (supported: {SUPPORTED}); convert the column (e.g. "
                   "astype) or pass allow_pickle=True", path)


def _string_dtype(dt, path):
    storage = dt.storage
    if storage not in ("python", "pyarrow"):
        raise _problem(f"a string dtype with storage {storage!r}", path)
    na = dt.na_value
    if na is not None and type(na) is float and math.isnan(na):
        return storage, "nan"
    import pandas as pd

    if na is pd.NA:
        return storage, "NA"
    raise _problem(f"a string dtype with missing value {na!r}", path)


def _enc_dtype(enc, dt, path, depth):
    import pandas as pd

    t = type(dt)
    if t is pd.CategoricalDtype:
        cats = dt.categories
        return ["pd.dtype", "category",
                None if cats is None else enc.encode(cats, f"{path}.categories", depth),
                bool(dt.ordered)]
    if t is pd.DatetimeTZDtype:
        if dt.unit not in _UNITS:
            raise _problem(f"a datetime dtype of unit {dt.unit!r}", path)
        return ["pd.dtype", "datetimetz", dt.unit, enc.tz(dt.tz, path)]
    if t is pd.StringDtype:
        return ["pd.dtype", "string", *_string_dtype(dt, path)]
    name = getattr(dt, "name", None)
    if name in _MASKED and t is type(pd.api.types.pandas_dtype(name)):
        return ["pd.dtype", "masked", name]
    if t is pd.PeriodDtype:
        return ["pd.dtype", "period", _period_freq(_period_alias(dt), dt, path)]
    if t is pd.IntervalDtype:
        # values imports this module: importing it back at module level would be a cycle
        from mle_runtime.format.values import dtype_to_json

        if dt.closed not in _CLOSED or not isinstance(dt.subtype, np.dtype):
            raise _problem(f"interval dtype {dt} (supported: numpy subtypes)", path)
        return ["pd.dtype", "interval", dtype_to_json(dt.subtype), dt.closed]
    raise _problem(f"pandas dtype {dt} is not stored natively (supported: {SUPPORTED})",
                   path)


def _period_alias(dt):
    # "period[M]" -> "M": the alias PeriodDtype accepts (freq.freqstr would say "ME")
    s = str(dt)
    return s[len("period["):-1] if s.startswith("period[") and s.endswith("]") else None


# --------------------------------------------------------------------------- decoding --------

def decode(dec, node, depth):
    """The pandas object of ``node`` (untrusted: any malformation raises FormatError)."""
    tag = node[0]
    fn = _DECODERS.get(tag)
    if fn is None:
        raise FormatError(f"value section: unknown node type {tag!r}; this file may need a "
                          "newer mle_runtime")
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise UnsupportedModelError(
            "the value holds pandas objects; install pandas to load it") from None
    try:
        return fn(dec, node, depth)
    except MLEError:
        raise
    except RecursionError:
        raise
    except Exception as e:  # noqa: BLE001 - pandas' constructors raise many kinds
        raise FormatError(f"value section: invalid {tag!r} node: {type(e).__name__}: "
                          f"{str(e)[:300]}") from None


def _bad(node, what):
    return FormatError(f"value section: {node[0]!r} node: {what}")


def _charge(dec, nbytes, what):
    """Charges what pandas is about to allocate (``what``: a few words) to the budget."""
    dec.charge(nbytes, f"decoding the value section (pandas: {what})")


def _length(x):
    """The length of an index or array; a RangeIndex may be too long for ``len``."""
    import pandas as pd

    if isinstance(x, pd.RangeIndex):
        r = range(x.start, x.stop, x.step)
        return (r[-1] - r[0]) // r.step + 1 if r else 0
    return len(x)


def _nbytes(x):
    """The bytes of the data of an array, index or frame piece (a RangeIndex as if it were
    materialised)."""
    if isinstance(x, np.ndarray):
        return x.nbytes
    import pandas as pd

    if isinstance(x, pd.RangeIndex):
        return 8 * _length(x)
    if isinstance(x, pd.DataFrame):
        return int(x.memory_usage(index=False, deep=False).sum())
    return int(x.nbytes)


def _table_cost(idx, range_cost):
    """What checking the labels of ``idx`` for uniqueness allocates: a hash table, or
    ``range_cost`` bytes per element for a RangeIndex (unique by construction)."""
    import pandas as pd

    per = range_cost if isinstance(idx, pd.RangeIndex) else _HASH_TABLE
    return per * _length(idx)


def _name(dec, node, x, depth):
    """A label (a name) decoded from ``x``: it must be hashable; pandas hashes it."""
    return _hashable(node, dec.decode_hashed(x, depth, times=2))


def _parts(node, n):
    if len(node) != n:
        raise FormatError(f"value section: {node[0]!r} node has {len(node)} parts, expected "
                          f"{n}")


def _int64(node, x, what):
    if type(x) is not int or not _INT64_MIN <= x < _INT64_END:
        raise _bad(node, f"{what} must be a 64-bit integer")
    return x


def _unit(node, x):
    if x not in _UNITS:
        raise _bad(node, f"unit must be one of {', '.join(_UNITS)}")
    return x


def _hashable(node, x, what="a name"):
    try:
        hash(x)
    except TypeError:
        raise _bad(node, f"{what} must be hashable, not {type(x).__name__}") from None
    return x


def _plain(a):
    """``a`` as a plain ndarray (a view of the same memory): pandas objects hold ndarrays,
    not np.memmap instances."""
    return a.view(np.ndarray) if type(a) is not np.ndarray else a


def _ndarray(node, x, what, ndim=1):
    if not isinstance(x, np.ndarray) or x.ndim != ndim:
        raise _bad(node, f"{what} must be a {ndim}-D numpy array")
    return _plain(x)


def _is_index(x):
    import pandas as pd

    return isinstance(x, pd.Index)


def _index(node, x, what):
    if not _is_index(x):
        raise _bad(node, f"{what} must be a pandas Index")
    return x


def _values(node, x, what):
    """A column's values: a 1-D numpy array or a pandas extension array."""
    import pandas as pd

    if isinstance(x, pd.api.extensions.ExtensionArray):
        return x
    if isinstance(x, np.ndarray) and x.ndim == 1:
        _time_unit(node, x)
        return _plain(x)
    raise _bad(node, f"{what} must be a 1-D numpy array or a pandas extension array")


def _time_unit(node, a):
    """Datetimes and timedeltas in numpy arrays must have a unit pandas holds."""
    if a.dtype.kind in "mM":
        _unit(node, np.datetime_data(a.dtype)[0])


def _check_dtype(node, got, want, what):
    if got != want:
        raise _bad(node, f"{what} load as {got}, not {want}")


def _dec_frame(dec, node, depth):
    import pandas as pd

    _parts(node, 6)
    if type(node[3]) is not list or type(node[5]) is not bool:
        raise _bad(node, "expected [tag, index, columns, [data], attrs, flag]")
    index = _index(node, dec.decode(node[1], depth), "the index")
    columns = _index(node, dec.decode(node[2], depth), "the columns")
    n = len(index)
    pieces, want, pos = [], [], 0
    for item in node[3]:
        x = dec.decode(item, depth)
        if isinstance(x, np.ndarray) and x.ndim == 2:
            x = _plain(x)
            _time_unit(node, x)
            if x.shape[0] != n:
                raise _bad(node, f"a block has {x.shape[0]} rows, the index {n}")
            k = x.shape[1]
            pieces.append(pd.DataFrame(x, dtype=x.dtype, columns=pd.RangeIndex(pos, pos + k),
                                       copy=False))
            want += [x.dtype] * k
            pos += k
        else:
            v = _values(node, x, "a column")
            if len(v) != n:
                raise _bad(node, f"a column has {len(v)} rows, the index {n}")
            pieces.append(pd.Series(v, dtype=v.dtype, name=pos, copy=False))
            want.append(v.dtype)
            pos += 1
    if pos != len(columns):
        raise _bad(node, f"{pos} columns of data for {len(columns)} column labels")
    attrs = dec.decode(node[4], depth)
    if attrs is not None and type(attrs) is not dict:
        raise _bad(node, "attrs must be a dict")
    if not pieces:
        df = pd.DataFrame(index=pd.RangeIndex(n))
    elif len(pieces) == 1 and isinstance(pieces[0], pd.DataFrame):
        df = pieces[0]
    else:
        _charge(dec, sum(_nbytes(p) for p in pieces) + 1024 * len(pieces),
                "joining the columns of a frame")
        df = pd.concat(pieces, axis=1)
    if df.shape != (n, pos):
        raise _bad(node, "the columns do not form a frame")
    for i, (got, w) in enumerate(zip(df.dtypes, want)):
        _check_dtype(node, got, w, f"column {i}")
    df.columns = columns
    df.index = index
    if attrs:
        df.attrs = attrs
    if not node[5]:
        df.flags.allows_duplicate_labels = False
    return df


def _dec_series(dec, node, depth):
    import pandas as pd

    _parts(node, 6)
    if type(node[5]) is not bool:
        raise _bad(node, "the flag must be a boolean")
    values = _values(node, dec.decode(node[1], depth), "the values")
    index = _index(node, dec.decode(node[2], depth), "the index")
    if len(index) != len(values):
        raise _bad(node, f"{len(values)} values for an index of {len(index)}")
    name = _name(dec, node, node[3], depth)
    attrs = dec.decode(node[4], depth)
    if attrs is not None and type(attrs) is not dict:
        raise _bad(node, "attrs must be a dict")
    s = pd.Series(values, index=index, dtype=values.dtype, name=name, copy=False)
    _check_dtype(node, s.dtype, values.dtype, "the values")
    if attrs:
        s.attrs = attrs
    if not node[5]:
        s.flags.allows_duplicate_labels = False
    return s


def _dec_range(dec, node, depth):
    import pandas as pd

    _parts(node, 5)
    start, stop, step = (_int64(node, x, "start, stop and step") for x in node[1:4])
    if step == 0:
        raise _bad(node, "step must not be 0")
    name = _name(dec, node, node[4], depth)
    return pd.RangeIndex(start, stop, step, name=name)


def _dec_index(dec, node, depth):
    import pandas as pd

    _parts(node, 4)
    values = _values(node, dec.decode(node[1], depth), "the values")
    name = _name(dec, node, node[2], depth)
    freq = node[3]
    if freq is not None and (type(freq) is not str or not 0 < len(freq) <= 100):
        raise _bad(node, "freq must be null or a short string")
    idx = pd.Index(values, dtype=values.dtype, name=name, copy=False, tupleize_cols=False)
    if type(idx) is pd.MultiIndex:
        raise _bad(node, "the values make a MultiIndex")
    _check_dtype(node, idx.dtype, values.dtype, "the values")
    if freq is not None:
        if type(idx) not in (pd.DatetimeIndex, pd.TimedeltaIndex):
            raise _bad(node, "only datetime and timedelta indexes have a frequency")
        # checking the frequency generates the index it implies and compares
        _charge(dec, 24 * len(idx), "checking the frequency of an index")
        idx = type(idx)(idx, freq=freq, name=name)
    return idx


def _dec_multi(dec, node, depth):
    import pandas as pd

    _parts(node, 5)
    if not all(type(x) is list for x in node[1:4]):
        raise _bad(node, "levels, codes and names must be lists")
    if not 0 < len(node[1]) == len(node[2]) == len(node[3]):
        raise _bad(node, "levels, codes and names must have the same non-zero length")
    levels = []
    for x in node[1]:
        lev = _index(node, dec.decode_hashed(x, depth), "a level")  # checked unique
        if isinstance(lev, pd.MultiIndex):
            raise _bad(node, "a level must not be a MultiIndex")
        _charge(dec, _table_cost(lev, 2), "checking a MultiIndex level")
        levels.append(lev)
    codes = []
    for x in node[2]:
        c = _ndarray(node, dec.decode(x, depth), "codes")
        if c.dtype.kind != "i":
            raise _bad(node, "codes must be signed integers")
        codes.append(c)
    if len({len(c) for c in codes}) != 1:
        raise _bad(node, "codes must have the same length")
    # pandas converts, checks and sorts the codes of every level
    _charge(dec, 32 * len(codes[0]) * len(codes), "checking the codes of a MultiIndex")
    names = [_name(dec, node, x, depth) for x in node[3]]
    sortorder = node[4]
    if sortorder is not None and (type(sortorder) is not int or
                                  not 0 <= sortorder <= len(levels)):
        raise _bad(node, "sortorder must be null or a level count")
    return pd.MultiIndex(levels=levels, codes=codes, names=names, sortorder=sortorder,
                         verify_integrity=True)


def _dec_cat(dec, node, depth):
    import pandas as pd

    _parts(node, 4)
    cats = _index(node, dec.decode_hashed(node[1], depth), "the categories")
    codes = _ndarray(node, dec.decode(node[2], depth), "the codes")
    _charge(dec, _table_cost(cats, 0) + 16 * len(codes), "checking a Categorical")
    if codes.dtype.kind != "i":
        raise _bad(node, "codes must be signed integers")
    if type(node[3]) is not bool:
        raise _bad(node, "ordered must be a boolean")
    if len(codes) and (int(codes.min()) < -1 or int(codes.max()) >= len(cats)):
        raise _bad(node, "a code is out of range of the categories")
    dtype = pd.CategoricalDtype(cats, ordered=node[3])
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=True)


def _dec_masked(dec, node, depth):
    import pandas as pd

    _parts(node, 4)
    name = node[1]
    if type(name) is not str or name not in _MASKED:
        raise _bad(node, f"the dtype must be one of {', '.join(_MASKED)}")
    data = _ndarray(node, dec.decode(node[2], depth), "the data")
    mask = _ndarray(node, dec.decode(node[3], depth), "the mask")
    if data.dtype != np.dtype(_MASKED[name]) or mask.dtype != np.dtype(bool):
        raise _bad(node, f"{name} needs {_MASKED[name]} data and a bool mask")
    if len(data) != len(mask):
        raise _bad(node, "data and mask differ in length")
    cls = pd.arrays.BooleanArray if name == "boolean" else (
        pd.arrays.FloatingArray if name.startswith("Float") else pd.arrays.IntegerArray)
    out = cls(data, mask, copy=False)
    _check_dtype(node, out.dtype.name, name, "the values")
    return out


def _string_of(node, storage, na):
    import pandas as pd

    if storage not in ("python", "pyarrow") or na not in ("nan", "NA"):
        raise _bad(node, "storage must be 'python' or 'pyarrow', na 'nan' or 'NA'")
    if storage == "pyarrow":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UnsupportedModelError(
                "the value holds pandas strings stored with pyarrow; install pyarrow to load "
                "it") from None
    return pd.StringDtype(storage, na_value=np.nan if na == "nan" else pd.NA)


def _dec_str(dec, node, depth):
    import pandas as pd

    _parts(node, 4)
    dtype = _string_of(node, node[1], node[2])
    items = _ndarray(node, dec.decode(node[3], depth), "the strings")
    if items.dtype != np.dtype(object) or \
            not set(map(type, items)) <= {str, type(None)}:
        raise _bad(node, "the strings must be an object array of str and None")
    cost = 24 * len(items)  # the copies of the array pandas makes
    if dtype.storage == "pyarrow":  # the text itself, as UTF-8 (up to 4 bytes a character)
        cost += 4 * sum(len(x) for x in items if x is not None)
    _charge(dec, cost, "a string array")
    out = pd.array(items, dtype=dtype, copy=True)
    _check_dtype(node, out.dtype, dtype, "the strings")
    return out


def _dec_dt(dec, node, depth):
    import pandas as pd

    _parts(node, 3)
    utc = _ndarray(node, dec.decode(node[1], depth), "the times")
    if utc.dtype.kind != "M":
        raise _bad(node, "the times must be datetime64")
    unit = _unit(node, np.datetime_data(utc.dtype)[0])
    tz = dec.tz(node[2])
    if tz is None:
        raise _bad(node, "a time zone is required")
    dtype = pd.DatetimeTZDtype(unit=unit, tz=tz)
    _charge(dec, 2 * utc.nbytes, "a datetime array with a time zone")
    return pd.arrays.DatetimeArray._from_sequence(utc.view("i8"), dtype=dtype)


def _dec_npa(dec, node, depth):
    import pandas as pd

    _parts(node, 3)
    a = _ndarray(node, dec.decode(node[2], depth), "the values")
    kind = node[1]
    if kind == "numpy":
        return pd.arrays.NumpyExtensionArray(a, copy=False)
    if kind in ("datetime", "timedelta"):
        if a.dtype.kind != ("M" if kind == "datetime" else "m"):
            raise _bad(node, f"the values must be {kind}64")
        _unit(node, np.datetime_data(a.dtype)[0])
        _charge(dec, a.nbytes, f"a {kind} array")
        out = pd.array(a, dtype=a.dtype, copy=False)
        _check_dtype(node, out.dtype, a.dtype, "the values")
        return out
    raise _bad(node, "kind must be 'numpy', 'datetime' or 'timedelta'")


def _freq_str(node, x):
    if type(x) is not str or not 0 < len(x) <= 100:
        raise _bad(node, "a frequency must be a short string")
    return x


def _dec_period(dec, node, depth):
    import pandas as pd

    _parts(node, 3)
    dtype = pd.PeriodDtype(_freq_str(node, node[1]))
    ordinals = _ndarray(node, dec.decode(node[2], depth), "the ordinals")
    if ordinals.dtype != np.dtype(np.int64):
        raise _bad(node, "the ordinals must be int64")
    _charge(dec, ordinals.nbytes, "a period array")
    return pd.arrays.PeriodArray(ordinals, dtype=dtype, copy=False)


def _dec_interval(dec, node, depth):
    import pandas as pd

    _parts(node, 4)
    if node[1] not in _CLOSED:
        raise _bad(node, f"closed must be one of {', '.join(_CLOSED)}")
    left = _index(node, dec.decode(node[2], depth), "left")
    right = _index(node, dec.decode(node[3], depth), "right")
    if isinstance(left, pd.MultiIndex) or isinstance(right, pd.MultiIndex) or \
            _length(left) != _length(right) or left.dtype != right.dtype:
        raise _bad(node, "left and right must be indexes of one dtype and length")
    if left.dtype.kind not in "iufmM":
        raise _bad(node, f"the bounds must be numbers or times, not {left.dtype}")
    # pandas materialises both bounds (a RangeIndex too) and compares them
    _charge(dec, 24 * 2 * _length(left), "an interval array")
    return pd.arrays.IntervalArray.from_arrays(left, right, closed=node[1])


def _dec_ts(dec, node, depth):
    import pandas as pd

    _parts(node, 4)
    v = _int64(node, node[1], "the value")
    if v == _INT64_MIN:
        raise _bad(node, "the value is NaT")
    ts = pd.Timestamp(np.datetime64(v, _unit(node, node[2])))
    tz = dec.tz(node[3])
    if tz is not None:
        ts = ts.tz_localize("UTC").tz_convert(tz)
    return ts


def _dec_td(dec, node, depth):
    import pandas as pd

    _parts(node, 3)
    v = _int64(node, node[1], "the value")
    if v == _INT64_MIN:
        raise _bad(node, "the value is NaT")
    return pd.Timedelta(np.timedelta64(v, _unit(node, node[2])))


def _dec_nat(dec, node, depth):
    import pandas as pd

    _parts(node, 1)
    return pd.NaT


def _dec_na(dec, node, depth):
    import pandas as pd

    _parts(node, 1)
    return pd.NA


def _dec_per(dec, node, depth):
    import pandas as pd

    _parts(node, 3)
    v = _int64(node, node[1], "the ordinal")
    if v == _INT64_MIN:
        raise _bad(node, "the ordinal is NaT")
    return pd.Period(ordinal=v, freq=_freq_str(node, node[2]))


def _dec_iv(dec, node, depth):
    import pandas as pd

    _parts(node, 4)
    left = dec.decode(node[1], depth)
    right = dec.decode(node[2], depth)
    if node[3] not in _CLOSED:
        raise _bad(node, f"closed must be one of {', '.join(_CLOSED)}")
    if isinstance(left, (list, tuple, dict, set, frozenset, np.ndarray)) or \
            isinstance(right, (list, tuple, dict, set, frozenset, np.ndarray)):
        raise _bad(node, "the bounds must be scalars")
    return pd.Interval(left, right, closed=node[3])


def _dec_dtype(dec, node, depth):
    import pandas as pd

    if len(node) < 2 or type(node[1]) is not str:
        raise _bad(node, "expected [tag, kind, ...]")
    kind = node[1]
    if kind == "category":
        _parts(node, 4)
        cats = dec.decode_hashed(node[2], depth)
        if cats is not None:
            _index(node, cats, "the categories")
            _charge(dec, _table_cost(cats, 0), "checking categories")
        if type(node[3]) is not bool:
            raise _bad(node, "ordered must be a boolean")
        return pd.CategoricalDtype(cats, ordered=node[3])
    if kind == "datetimetz":
        _parts(node, 4)
        unit = _unit(node, node[2])
        tz = dec.tz(node[3])
        if tz is None:
            raise _bad(node, "a time zone is required")
        return pd.DatetimeTZDtype(unit=unit, tz=tz)
    if kind == "string":
        _parts(node, 4)
        return _string_of(node, node[2], node[3])
    if kind == "masked":
        _parts(node, 3)
        if type(node[2]) is not str or node[2] not in _MASKED:
            raise _bad(node, f"the dtype must be one of {', '.join(_MASKED)}")
        return pd.api.types.pandas_dtype(node[2])
    if kind == "period":
        _parts(node, 3)
        return pd.PeriodDtype(_freq_str(node, node[2]))
    if kind == "interval":
        _parts(node, 4)
        # values imports this module: importing it back at module level would be a cycle
        from mle_runtime.format.values import dtype_from_json

        sub = dtype_from_json(node[2])
        if sub.kind not in "iufmM":
            raise _bad(node, "an interval subtype must be a numeric or time dtype")
        if node[3] not in _CLOSED:
            raise _bad(node, f"closed must be one of {', '.join(_CLOSED)}")
        return pd.IntervalDtype(sub, closed=node[3])
    raise _bad(node, f"unknown dtype kind {kind!r}")


_DECODERS = {
    "pd.frame": _dec_frame, "pd.series": _dec_series,
    "pd.range": _dec_range, "pd.index": _dec_index, "pd.multi": _dec_multi,
    "pd.cat": _dec_cat, "pd.masked": _dec_masked, "pd.str": _dec_str, "pd.dt": _dec_dt,
    "pd.npa": _dec_npa, "pd.period": _dec_period, "pd.interval": _dec_interval,
    "pd.ts": _dec_ts, "pd.td": _dec_td, "pd.nat": _dec_nat, "pd.na": _dec_na,
    "pd.per": _dec_per, "pd.iv": _dec_iv, "pd.dtype": _dec_dtype,
}
