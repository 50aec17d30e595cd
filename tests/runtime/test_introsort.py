"""runtime/introsort.py orders a sparse row's (column, value) pairs as scipy's
``sum_duplicates`` leaves them (the C++ library's std::sort), so float32 sums of a column's
values are bit for bit scipy's: random rows, sorted and reversed ones, and patterns that
drive the quicksort to its depth limit (heapsort)."""

import numpy as np
import pytest
import scipy.sparse as sp

import mle_runtime.runtime.introsort as introsort


def _patterns():
    out = []
    for n in (17, 64, 257, 1000):
        x = np.arange(n)
        out += [x % 7, np.concatenate([x[:n // 2], x[:n // 2][::-1]]),
                np.where(x % 2 == 0, x // 2, n // 2 + x // 2), x[::-1]]
        k, a = n // 2, np.zeros(n, dtype=int)  # a median-of-three killer sequence
        for i in range(1, k + 1):
            if i % 2 == 1:
                a[i - 1], a[i] = i, k + i
            a[k + i - 1] = 2 * i
        out.append(a)
    rng = np.random.default_rng(0)
    out += [rng.integers(0, m, size=n) for n in (2, 16, 17, 40, 300) for m in (1, 2, 5, 1000)]
    return out


def test_order_is_scipys(monkeypatch):
    heap = []
    real = introsort._heapsort
    monkeypatch.setattr(introsort, "_heapsort", lambda *a: (heap.append(1), real(*a)))
    rng = np.random.default_rng(1)
    for cols in _patterns():
        cols = np.asarray(cols, dtype=np.int32)
        n, nf = len(cols), int(cols.max()) + 1
        vals = (rng.normal(size=n) * 10.0 ** rng.uniform(-3, 3, size=n)).astype(np.float32)
        X = sp.csr_matrix((vals.copy(), cols.copy(), np.array([0, n])), shape=(1, nf))
        X.sum_duplicates()
        order = introsort.introsort_order(cols.tolist())
        assert sorted(cols.tolist()) == [int(cols[i]) for i in order]
        if not np.any(np.diff(cols) < 0):
            order = range(n)  # scipy does not sort rows already sorted
        got = np.zeros(nf, dtype=np.float32)
        for i in order:
            got[cols[i]] += vals[i]
        np.testing.assert_array_equal(got, X.toarray()[0])
    assert heap  # the depth limit was reached at least once


@pytest.mark.parametrize("keys", [[], [3], [2, 1], [1, 1, 1]])
def test_small(keys):
    order = introsort.introsort_order(keys)
    assert [keys[i] for i in order] == sorted(keys)
