"""The order in which scipy sums a sparse row's duplicate entries.

``csr_matrix.sum_duplicates`` sorts each row's (column, value) pairs by column with the C++
standard library's ``std::sort`` (not stable), then adds the values of equal columns in the
order the sort leaves them. For the last bits of those sums to be reproduced, this module
orders the pairs exactly as the GNU C++ library's introsort does (median-of-three quicksort
down to runs of 16, heapsort past the depth limit, then one insertion sort), comparing
columns only.
"""

_THRESHOLD = 16


def introsort_order(keys):
    """The permutation ``std::sort`` (libstdc++) applies to ``keys`` (a list of ints),
    comparing keys only: ``[keys[i] for i in order]`` is sorted."""
    a = list(range(len(keys)))
    k = keys
    n = len(a)
    if n < 2:
        return a
    _loop(a, k, 0, n, 2 * (n.bit_length() - 1))
    if n > _THRESHOLD:
        _insertion(a, k, 0, _THRESHOLD)
        for i in range(_THRESHOLD, n):
            _linear_insert(a, k, i)
    else:
        _insertion(a, k, 0, n)
    return a


def _loop(a, k, first, last, depth):
    while last - first > _THRESHOLD:
        if depth == 0:
            _heapsort(a, k, first, last)
            return
        depth -= 1
        cut = _partition_pivot(a, k, first, last)
        _loop(a, k, cut, last, depth)
        last = cut


def _partition_pivot(a, k, first, last):
    mid = first + (last - first) // 2
    _median_to_first(a, k, first, first + 1, mid, last - 1)
    return _partition(a, k, first + 1, last, first)


def _median_to_first(a, k, result, x, y, z):
    kx, ky, kz = k[a[x]], k[a[y]], k[a[z]]
    if kx < ky:
        if ky < kz:
            m = y
        elif kx < kz:
            m = z
        else:
            m = x
    elif kx < kz:
        m = x
    elif ky < kz:
        m = z
    else:
        m = y
    a[result], a[m] = a[m], a[result]


def _partition(a, k, first, last, pivot):
    p = k[a[pivot]]
    while True:
        while k[a[first]] < p:
            first += 1
        last -= 1
        while p < k[a[last]]:
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _insertion(a, k, first, last):
    for i in range(first + 1, last):
        v = a[i]
        if k[v] < k[a[first]]:
            a[first + 1:i + 1] = a[first:i]
            a[first] = v
        else:
            _linear_insert(a, k, i)


def _linear_insert(a, k, last):
    v = a[last]
    kv = k[v]
    nxt = last - 1
    while kv < k[a[nxt]]:
        a[last] = a[nxt]
        last = nxt
        nxt -= 1
    a[last] = v


def _heapsort(a, k, first, last):
    """std::partial_sort(first, last, last): make_heap, then sort_heap."""
    n = last - first
    if n > 1:  # make_heap
        parent = (n - 2) // 2
        while True:
            _adjust_heap(a, k, first, parent, n, a[first + parent])
            if parent == 0:
                break
            parent -= 1
    while last - first > 1:  # sort_heap: pop_heap(first, last, last) with --last
        last -= 1
        v = a[last]
        a[last] = a[first]
        _adjust_heap(a, k, first, 0, last - first, v)


def _adjust_heap(a, k, first, hole, length, value):
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if k[a[first + child]] < k[a[first + child - 1]]:
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if (length & 1) == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    # push_heap
    parent = (hole - 1) // 2
    kv = k[value]
    while hole > top and k[a[first + parent]] < kv:
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value
