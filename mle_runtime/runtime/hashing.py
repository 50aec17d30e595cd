"""The input rule "hashed" (docs/FORMAT.md, section 9.7): samples of named features, hashed
into columns as scikit-learn's FeatureHasher hashes them, without importing scikit-learn.

Each feature name (a string, as UTF-8, or bytes) is hashed with MurmurHash3 (seed 0, signed
32-bit); its column is ``abs(h) % n_features`` and, with ``alternate_sign``, its value is
negated when ``h < 0``. A string value ``v`` of a feature ``f`` is the feature ``"f=v"`` with
value 1; a value of 0 is skipped; the values of one column are summed in the rule's dtype
(float32 values are rounded to float32 first) in the order scipy's ``sum_duplicates`` adds
them: the order they come when no sample's columns decrease, else the order the C++
library's sort of each sample's (column, value) pairs leaves them (``runtime/introsort.py``).
"""

from numbers import Number

import numpy as np

from mle_runtime.errors import InputError, InputTypeError
from mle_runtime.runtime.introsort import introsort_order
from mle_runtime.runtime.text import murmurhash3_32

_CACHE_LIMIT = 1 << 20


class HashedInput:
    """rule: [input_type, alternate_sign, dtype]; n_features: the graph's input columns."""

    def __init__(self, rule, n_features):
        self.input_type = rule[0]
        self.alternate_sign = bool(rule[1])
        self.dtype = np.dtype(rule[2])
        self.n_features = int(n_features)
        self._columns = {}

    def _column(self, name):
        """(column, sign) of a feature name, refusing names that are not strings."""
        found = self._columns.get(name)
        if found is not None:
            return found
        if not isinstance(name, (str, bytes)):
            raise InputTypeError("feature names must be strings")
        h = murmurhash3_32(name)
        n = self.n_features
        col = (2147483647 - (n - 1)) % n if h == -2147483648 else abs(h) % n
        found = (col, -1.0 if self.alternate_sign and h < 0 else 1.0)
        if len(self._columns) >= _CACHE_LIMIT:
            self._columns = {}
        self._columns[name] = found
        return found

    def _pairs(self, x, r):
        """The (feature name, value) pairs of sample r."""
        kind = self.input_type
        if kind == "dict":
            items = getattr(x, "iteritems", None) or getattr(x, "items", None)
            if items is None:
                raise InputError(
                    f"FeatureHasher(input_type='dict') takes an iterable of dicts (feature "
                    f"name -> value), one per sample; sample {r} is a {type(x).__name__}. "
                    "Pass dicts, as to FeatureHasher.transform.")
            return items()
        if kind == "string":  # a later sample that is a string is its characters, as there
            if not _iterable(x):
                raise InputError(
                    f"FeatureHasher(input_type='string') takes an iterable of samples, each "
                    f"an iterable of feature names (str); sample {r} is a "
                    f"{type(x).__name__}. Pass lists of strings, as to "
                    "FeatureHasher.transform.")
            return ((f, 1) for f in x)
        if not _iterable(x):
            raise InputError(
                f"FeatureHasher(input_type='pair') takes an iterable of samples, each an "
                f"iterable of (feature name, value) pairs; sample {r} is a "
                f"{type(x).__name__}. Pass lists of pairs, as to FeatureHasher.transform.")
        return x

    def matrix(self, X):
        """The dense rows of FeatureHasher.transform(X), as float64 (values of the rule's
        dtype)."""
        if isinstance(X, dict):
            raise InputError("FeatureHasher takes an iterable of samples, not one dict; pass "
                             "[d] for one sample")
        if isinstance(X, (str, bytes)) or not _iterable(X):
            raise InputError("FeatureHasher takes an iterable of samples (raw_X), got a "
                             f"{type(X).__name__}")
        samples = list(X)
        if self.input_type == "string" and samples and isinstance(samples[0], str):
            raise InputError("Samples can not be a single string. The input must be an "
                             "iterable over iterables of strings.")
        if not samples:
            raise InputError("Cannot vectorize empty sequence.")
        f32 = self.dtype == np.float32
        rows = []  # per sample: (columns, values), in the order the features come
        unsorted = False  # scipy sorts the rows only when some row's columns decrease
        for r, x in enumerate(samples):
            cols, vals = [], []
            for pair in self._pairs(x, r):
                try:
                    f, v = pair
                except (TypeError, ValueError) as e:  # not a (name, value) pair
                    raise InputError(
                        f"FeatureHasher(input_type={self.input_type!r}): sample {r} holds "
                        f"{pair!r}, not a (feature name, value) pair ({e}); pass "
                        + ("dicts" if self.input_type == "dict" else "lists of pairs")
                        + " as to FeatureHasher.transform.") from None
                if isinstance(v, str):
                    f = "%s%s%s" % (f, "=", v)  # noqa: UP031 (scikit-learn's formatting)
                    value = 1.0
                else:
                    value = _as_double(v)
                if value == 0:
                    continue
                col, sign = self._column(f)
                if cols and col < cols[-1]:
                    unsorted = True
                cols.append(col)
                vals.append(np.float32(value * sign) if f32 else value * sign)
            rows.append((cols, vals))
        out = np.zeros((len(samples), self.n_features), dtype=self.dtype)
        for r, (cols, vals) in enumerate(rows):
            row = out[r]
            order = range(len(cols))
            # up to 16 entries std::sort is an insertion sort (stable): the order they came
            if unsorted and len(cols) > 16 and len(set(cols)) < len(cols):
                order = introsort_order(cols)
            for i in order:
                row[cols[i]] += vals[i]
        return out.astype(np.float64, copy=False)


def _iterable(x):
    try:
        iter(x)
    except TypeError:
        return False
    return True


def _as_double(v):
    """v as a C double, as scikit-learn's Cython converts it (bytes are not numbers there)."""
    if isinstance(v, (bytes, bytearray)) or v is None:
        raise InputTypeError(f"must be real number, not {type(v).__name__}")
    if isinstance(v, float):
        return v
    if isinstance(v, Number) or hasattr(v, "__float__") or hasattr(v, "__index__"):
        return float(v)
    raise InputTypeError(f"must be real number, not {type(v).__name__}")
