# cython: language_level=3, boundscheck=False, wraparound=False, embedsignature=True
# distutils: language = c++
"""The one Cython boundary of mle_runtime: loading (open, map, validate, verify, build the plan)
and running a plan are each a single native call."""

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_ANY_CONTIGUOUS, \
    PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t, uintptr_t
from libcpp.memory cimport unique_ptr

from mle_native cimport *

import mmap

import numpy as np

from mle_runtime.errors import FormatError, InputError, MLEError, UnsupportedModelError

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)


# The exception of each Status code (mle/status.h): the one table check_status reads. kIO's
# OSError also carries errno and the file name; a code without an entry (kInternal, or one
# this table lacks) is a bug in mle_runtime. tests/native/test_status.py checks the table
# against the enum in status.h.
STATUS_EXCEPTIONS = {
    <int>CCODE_FORMAT: FormatError,
    <int>CCODE_INPUT: InputError,
    <int>CCODE_UNSUPPORTED: UnsupportedModelError,
    <int>CCODE_IO: OSError,
    <int>CCODE_MEMORY: MemoryError,
}


cdef int check_status(const CStatus& st, object filename=None) except -1:
    """Turns a C++ Status into the matching Python exception (STATUS_EXCEPTIONS)."""
    if st.ok():
        return 0
    msg = st.message.decode("utf-8", "replace")
    exc = STATUS_EXCEPTIONS.get(<int>st.code)
    if exc is None:
        raise MLEError("internal error in mle_runtime: " + msg)
    if exc is OSError:
        if filename is not None:
            raise OSError(st.err_no, msg, filename)
        raise OSError(st.err_no, msg)
    raise exc(msg)


cdef inline CDType _dtype_code(object dt) except *:
    if dt is _F32:
        return CDT_F32
    if dt is _F64:
        return CDT_F64
    if dt == _F32:
        return CDT_F32
    if dt == _F64:
        return CDT_F64
    raise TypeError("internal: X must be float32 or float64")


cdef object _np_dtype(CDType t):
    if t == CDT_F32:
        return _F32
    if t == CDT_F64:
        return _F64
    return _I64


cdef class NativeModel:
    """A loaded, validated .mle file and its executable plan (immutable, thread-safe)."""

    cdef unique_ptr[CModel] _m
    cdef object _owner  # the read-only buffer a borrowed model reads (see load_view)
    cdef readonly dict outputs
    """Graph output name -> index."""
    cdef readonly tuple ravel
    cdef readonly int64_t n_features
    cdef readonly str name

    def __cinit__(self):
        self._m.reset(new CModel())

    cdef _finish(self):
        cdef CModel* m = self._m.get()
        cdef int i
        self.outputs = {}
        rv = []
        for i in range(m.num_outputs()):
            self.outputs[m.output(i).name.decode("utf-8")] = i
            rv.append(m.output(i).ravel)
        self.ravel = tuple(rv)
        self.n_features = m.n_features()
        self.name = m.name().decode("utf-8", "replace")

    def meta_bytes(self):
        """The raw bytes of the metadata JSON section."""
        cdef const CSection* s = &self._m.get().meta()
        return (<const char*> s.data)[:s.size]

    def rules_json(self):
        """The model's validated prediction rules as canonical JSON text (str; docs/FORMAT.md
        section 9.4): label sets, per-output options, keyword aliases and input rules, from
        the graph section (format 1.3) or mapped from an older file's metadata keys."""
        return self._m.get().rules().decode("utf-8")

    def section(self, uint32_t kind):
        """A read-only buffer over the bytes of the model's first section of ``kind`` (a
        section kind of docs/FORMAT.md section 5), as validated and checksummed at load: no
        copy (a view into the mapping or into the bytes read), and it keeps the model alive.
        None when the file has no such section. ``np.frombuffer`` on it gives read-only
        arrays."""
        cdef const CContainer* c = &self._m.get().container()
        cdef size_t i
        cdef SectionBuffer sb
        for i in range(c.sections.size()):
            if c.sections[i].kind == kind:
                sb = SectionBuffer.__new__(SectionBuffer)
                sb._model = self
                sb._data = c.sections[i].data
                sb._shape[0] = <Py_ssize_t> c.sections[i].size
                return sb
        return None

    def file_bytes(self):
        """A copy of the whole .mle file the model was built from (as validated)."""
        cdef CModel* m = self._m.get()
        return (<const char*> m.file_data())[:m.file_size()]

    @property
    def borrowed(self):
        """True when the model reads memory owned by a Python object (see load_view)."""
        return self._owner is not None

    @property
    def mapped(self):
        """True when the file is memory-mapped, False when it was read into memory."""
        return self._m.get().mapped()

    @property
    def file_size(self):
        return self._m.get().file_size()

    @property
    def num_nodes(self):
        return self._m.get().num_nodes()

    def output_cols(self, int idx):
        if idx < 0 or idx >= self._m.get().num_outputs():
            raise IndexError(idx)
        return self._m.get().output_cols(idx)

    def run(self, X, int idx, int n_threads=0):
        """Runs graph output `idx` on X (2-D, C-contiguous float32/float64 ndarray).

        Returns a new ndarray of shape (n, cols), or (n,) for ravelled outputs.
        """
        cdef CModel* m = self._m.get()
        if idx < 0 or idx >= m.num_outputs():
            raise IndexError(idx)
        cdef Py_buffer xb
        PyObject_GetBuffer(X, &xb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
        cdef CDType xdt
        cdef int64_t n, cols
        cdef CStatus st
        cdef Py_buffer ob
        try:
            if xb.ndim != 2:
                raise InputError(f"Expected a 2D array, got {xb.ndim}D")
            if xb.format[0] == b'd' and xb.format[1] == 0:
                xdt = CDT_F64
            elif xb.format[0] == b'f' and xb.format[1] == 0:
                xdt = CDT_F32
            else:
                raise TypeError("internal: X must be float32 or float64")
            n = xb.shape[0]
            cols = xb.shape[1]
            ocols = m.output_cols(idx)
            odt = _np_dtype(m.output_dtype(idx, xdt))
            if m.output(idx).ravel:
                out = np.empty(n, dtype=odt)
            else:
                out = np.empty((n, ocols), dtype=odt)
            PyObject_GetBuffer(out, &ob, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
            with nogil:
                st = m.run(idx, xb.buf, xdt, n, cols, ob.buf, n_threads)
            PyBuffer_Release(&ob)
            check_status(st)
            return out
        finally:
            PyBuffer_Release(&xb)


cdef class SectionBuffer:
    """A read-only buffer (format ``B``) over one section of a loaded model
    (:meth:`NativeModel.section`); it holds the model, so the memory stays valid while any view
    of it exists."""

    cdef NativeModel _model
    cdef const uint8_t* _data
    cdef Py_ssize_t _shape[1]

    def __len__(self):
        return self._shape[0]

    def __getbuffer__(self, Py_buffer* view, int flags):
        if flags & PyBUF_WRITABLE:
            raise BufferError("a model's sections are read-only")
        view.buf = <void*> self._data
        view.obj = self
        view.len = self._shape[0]
        view.readonly = 1
        view.itemsize = 1
        view.format = NULL
        if flags & PyBUF_FORMAT:
            view.format = b"B"
        view.ndim = 1
        view.shape = self._shape
        view.strides = NULL
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer* view):
        pass


_FILE_KINDS = {CFK_MODEL: "model", CFK_ENVELOPE: "envelope", CFK_VALUE: "value"}


cdef object _other_kind(CModel* m):
    """After a failed load: the kind ("envelope" or "value") of a file that parsed as a valid
    container of another kind than a model file, else None (the failure stands)."""
    cdef const CContainer* c = &m.container()
    if c.parsed and c.kind != CFK_MODEL:
        return _FILE_KINDS[c.kind]
    return None


cdef object _load_file(bytes path, object filename, bint kind_ok):
    """load_path, or with ``kind_ok`` load_path_or_kind."""
    cdef NativeModel nm = NativeModel.__new__(NativeModel)
    cdef const char* p = path
    cdef CStatus st
    with nogil:
        st = nm._m.get().load_file(p)
    if kind_ok and not st.ok():
        kind = _other_kind(nm._m.get())
        if kind is not None:
            return kind
    check_status(st, filename if filename is not None else path.decode("utf-8", "replace"))
    nm._finish()
    return nm


cdef object _load_bytes(data, bint kind_ok):
    """load_buffer, or with ``kind_ok`` load_buffer_or_kind."""
    cdef NativeModel nm = NativeModel.__new__(NativeModel)
    cdef Py_buffer b
    cdef CStatus st
    PyObject_GetBuffer(data, &b, PyBUF_ANY_CONTIGUOUS)
    try:
        with nogil:
            st = nm._m.get().load_bytes(b.buf, <size_t> b.len)
    finally:
        PyBuffer_Release(&b)
    if kind_ok and not st.ok():
        kind = _other_kind(nm._m.get())
        if kind is not None:
            return kind
    check_status(st)
    nm._finish()
    return nm


def load_path(bytes path, object filename=None):
    """Opens, maps (or reads), validates and verifies a .mle file and builds its plan."""
    return _load_file(path, filename, False)


def load_buffer(data):
    """Like load_path, from bytes-like data (copied once into aligned memory)."""
    return _load_bytes(data, False)


def load_view(data):
    """Like load_buffer, without the copy when ``data`` is a contiguous view of ``bytes`` or of
    a read-only mmap starting at a 64-byte boundary: the model then keeps a
    memoryview of it, which keeps the memory alive and an mmap from being closed. Writable or
    unaligned buffers are copied, as by load_buffer."""
    cdef NativeModel nm
    cdef Py_buffer b
    cdef CStatus st
    mv = memoryview(data)
    # Borrow only memory nobody can change: bytes, or a read-only mmap (a read-only view of a
    # bytearray could still be written through the bytearray after validation).
    owner = mv.obj
    if not mv.readonly or not mv.c_contiguous or not (
            type(owner) is bytes or (type(owner) is mmap.mmap and memoryview(owner).readonly)):
        return load_buffer(data)
    PyObject_GetBuffer(mv, &b, PyBUF_ANY_CONTIGUOUS)
    try:
        if (<uintptr_t> b.buf) % 64:
            return load_buffer(data)
        nm = NativeModel.__new__(NativeModel)
        with nogil:
            st = nm._m.get().load_view(b.buf, <size_t> b.len)
    finally:
        PyBuffer_Release(&b)
    check_status(st)
    nm._owner = mv  # holds its own export of the underlying buffer for the model's lifetime
    nm._finish()
    return nm


def load_path_or_kind(bytes path, object filename=None):
    """Like load_path for a model file. For an envelope or a value file (whose sections the
    Python layer reads) returns its kind, "envelope" or "value", instead of raising: the
    file's header and section table are then valid, its checksums not yet verified."""
    return _load_file(path, filename, True)


def load_buffer_or_kind(data):
    """Like load_buffer for a model file; for an envelope or a value file returns its kind,
    as load_path_or_kind does."""
    return _load_bytes(data, True)


def parse_container(data, verify=True, file_size=None):
    """Validates the header and section table of the .mle file in ``data`` (bytes-like) with
    the native loader's parser and messages (docs/FORMAT.md, section 7).

    ``verify``: True checks every section's checksum, a collection of section kinds (each
    below 64) only those sections', False or () none (the header and table checksums are
    always checked). ``file_size``: the file's length when ``data`` holds only its first
    bytes (at least the header and section table); sections are then checked against it and
    only those inside ``data`` can be verified.

    Returns ``(kind, major, minor, flags, sections)``: ``kind`` is "model", "envelope" or
    "value"; ``sections`` lists ``(kind, flags, offset, size, crc, verified)`` in table order.
    Raises FormatError for any violation.
    """
    cdef CVerifyPolicy policy
    cdef CContainer c
    cdef Py_buffer b
    cdef CStatus st
    cdef uint64_t total = 0
    cdef size_t i
    cdef const CSection* s
    policy.model_files_only = False
    policy.kinds = 0
    policy.all = verify is True
    if not policy.all and verify:
        for k in verify:
            if not 0 <= k < 64:
                raise ValueError(f"verify: section kinds are below 64, got {k!r}")
            policy.kinds |= (<uint64_t> 1) << <int> k
    PyObject_GetBuffer(data, &b, PyBUF_ANY_CONTIGUOUS)
    try:
        if file_size is not None:
            if file_size < b.len:
                raise ValueError(f"file_size {file_size} is below the {b.len} bytes given")
            total = file_size
        with nogil:
            st = c_parse_file(<const uint8_t*> b.buf, <size_t> b.len, total, policy, &c)
    finally:
        PyBuffer_Release(&b)
    check_status(st)
    sections = []
    for i in range(c.sections.size()):
        s = &c.sections[i]
        sections.append((s.kind, s.flags, s.offset, s.size, s.crc, s.verified))
    return _FILE_KINDS[c.kind], c.major, c.minor, c.flags, sections


def crc32c(data, uint32_t crc=0):
    """CRC-32C of a bytes-like object; pass a previous result to continue it."""
    cdef Py_buffer b
    cdef uint32_t r
    PyObject_GetBuffer(data, &b, PyBUF_ANY_CONTIGUOUS)
    try:
        with nogil:
            r = c_crc32c(b.buf, <size_t> b.len, crc)
    finally:
        PyBuffer_Release(&b)
    return r


def persisted_fields():
    """[(record, field, offset, size)] of every C++ struct written to disk."""
    cdef const CFieldInfo* f = c_persisted_fields()
    out = []
    while f.record != NULL:
        out.append((f.record.decode(), f.field.decode(), f.offset, f.size))
        f += 1
    return out


def _read_threshold(new=None):
    """Files up to this many bytes are read, larger ones memory-mapped; returns the value in
    use before the call. Tests lower it to send small files through the mapped path."""
    cdef size_t old = CBuffer.read_threshold()
    if new is not None:
        CBuffer.set_read_threshold(<size_t>new)
    return old


_WALKS = ("auto", "reference", "lanes", "rows", "trees")


def _tree_walk(new=None):
    """The TreeEnsemble walk in use: "auto" (chosen per block), or one forced wherever the
    model allows it (the scalar "reference", "lanes", "rows", "trees"); process-wide. Sets it
    when ``new`` is given; returns the one in use before the call. For tests that compare
    every fast walk with the reference."""
    old = _WALKS[c_walk_code()]
    if new is not None:
        c_set_walk_code(_WALKS.index(new))
    return old


def dense_reference(new=None):
    """Whether every dense product runs through the scalar reference; sets it when ``new`` is
    given and returns the previous setting. For tests comparing the fast paths with it."""
    old = bool(c_dense_reference())
    if new is not None:
        c_dense_set_reference(bool(new))
    return old


def dense_self_check():
    """Random products of every shape class in float64 and float32: (largest difference of our
    own vectorised kernels from the scalar reference, which must be 0; largest difference of
    the OpenBLAS path, scaled by sqrt(k) + 1)."""
    cdef double own = 0, blas = 0
    c_dense_self_check(&own, &blas)
    return own, blas


def build_info():
    """Compiled features of the native core."""
    return {
        "openmp": bool(c_built_with_openmp()),
        "max_threads": c_max_threads(),
        "crc32c": c_crc32c_impl().decode(),
        "simd": c_simd_level().decode(),
        "dense": f"{c_dense_isa().decode()}, batches: {c_dense_blas_info().decode()}",
        "cuda": False,  # this build has no CUDA kernels
    }


def ops():
    """The op vocabulary of this build: the schemas every graph node is checked against at load.

    Returns a list of ``(op, {"inputs": n, "attrs": {name: kind}})`` pairs in registration
    order (``dict(ops())`` has the form of ``mle_runtime.ir.ops.OPS``; a name registered twice
    appears twice here, so a test can refuse it). An optional attribute's name ends in ``?``;
    its kind is ``"tensor:<dtype>"``, ``"bool"``, ``"number"``, ``"string"`` (any string), or
    the tuple of the values a string attribute may take.
    """
    cdef const vector[COpEntry]* table = &c_registered_ops()
    cdef const COpEntry* e
    cdef const CAttrSpec* a
    out = []
    for i in range(table.size()):
        e = &table[0][i]
        attrs = {}
        for j in range(e.attrs.size()):
            a = &e.attrs[j]
            key = a.name.decode() + ("?" if a.presence else "")
            if a.values.size():
                attrs[key] = tuple(a.values[k].decode() for k in range(a.values.size()))
            else:
                attrs[key] = c_describe_kind(a[0]).decode()
        out.append((e.name.decode(), {"inputs": e.inputs, "attrs": attrs}))
    return out


# -- Dump-time tree packing (mle_runtime/ir/trees.py) ---------------------------------------

cdef object _vector_to_array(vector[int64_t]& v):
    out = np.empty(v.size(), dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef size_t i
    for i in range(v.size()):
        o[i] = v[i]
    return out


def tree_order(left, right, offsets):
    """Depth-first order (left subtree first) of the nodes reachable from each tree's root.

    ``left``, ``right``: tree-relative child indices of every tree's nodes, one tree after
    another (a node is internal when its left child is >= 0); tree t owns nodes
    ``offsets[t]:offsets[t + 1]``. Returns ``(order, counts)``: the global indices of the
    visited nodes, tree after tree (int64), and each tree's number of them. A child index
    outside its tree, or a node reached twice, raises UnsupportedModelError.
    """
    cdef const int64_t[::1] l = np.ascontiguousarray(left, dtype=np.int64).reshape(-1)
    cdef const int64_t[::1] r = np.ascontiguousarray(right, dtype=np.int64).reshape(-1)
    off_arr = np.ascontiguousarray(offsets, dtype=np.int64).reshape(-1)
    cdef const int64_t[::1] off = off_arr
    if l.shape[0] != r.shape[0]:
        raise ValueError(f"tree_order: {l.shape[0]} left children but {r.shape[0]} right ones")
    if off.shape[0] < 1 or off[0] != 0 or off[off.shape[0] - 1] != l.shape[0] or \
            np.any(np.diff(off_arr) < 0):
        raise ValueError("tree_order: offsets must rise from 0 to the number of nodes")
    cdef int64_t n_trees = off.shape[0] - 1
    counts = np.zeros(n_trees, dtype=np.int64)
    cdef int64_t[::1] c = counts
    cdef vector[int64_t] order
    cdef CStatus st
    order.reserve(l.shape[0])
    with nogil:
        st = c_tree_order(&l[0] if l.shape[0] else NULL, &r[0] if r.shape[0] else NULL,
                          &off[0], n_trees, &order, &c[0] if n_trees else NULL)
    check_status(st)
    return _vector_to_array(order), counts


cdef const int64_t* _i64_field(object arr, int64_t n, str name, list keep) except? NULL:
    """Pointer to a C-contiguous int64 copy/view of ``arr`` (length n), or NULL for None."""
    if arr is None:
        return NULL
    a = np.ascontiguousarray(arr, dtype=np.int64).reshape(-1)
    if a.shape[0] != n:
        raise ValueError(f"pack_nodes: {name} has {a.shape[0]} values for {n} nodes")
    keep.append(a)
    cdef const int64_t[::1] v = a
    return &v[0] if n else NULL


cdef const uint8_t* _bool_field(object arr, int64_t n, str name, list keep) except? NULL:
    if arr is None:
        return NULL
    a = np.ascontiguousarray(arr, dtype=bool).reshape(-1).view(np.uint8)
    if a.shape[0] != n:
        raise ValueError(f"pack_nodes: {name} has {a.shape[0]} values for {n} nodes")
    keep.append(a)
    cdef const uint8_t[::1] v = a
    return &v[0] if n else NULL


def pack_nodes(offsets, order, counts, left, right, feature, threshold, int64_t n_features,
               bint wide, missing=None, default_left=None, categorical=None, cat_left=None,
               cat_known=None):
    """The TreeEnsemble node records (``uint8 [len(order), 12 or 16]``, Node64 when ``wide``)
    of the nodes ``order`` visits (``order, counts = tree_order(left, right, offsets)``), and
    the node index of every leaf in record order (int64). ``threshold`` holds, per node, the
    value stored for numerical splits (float32 unless ``wide``, float64 then); the optional
    fields are as in ``ir.trees.Tree`` (None: absent; ``cat_left`` is needed with
    ``categorical``). Leaves point at consecutive rows in record order. Raises
    UnsupportedModelError for a feature index outside ``[0, n_features)``, a child outside its
    tree, or a known-category set with Node32 records."""
    keep = []
    off_arr = np.ascontiguousarray(offsets, dtype=np.int64).reshape(-1)
    cdef const int64_t[::1] off = off_arr
    if off.shape[0] < 1 or off[0] != 0 or np.any(np.diff(off_arr) < 0):
        raise ValueError("pack_nodes: offsets must rise from 0")
    cdef int64_t n = off[off.shape[0] - 1]
    cdef int64_t n_trees = off.shape[0] - 1
    cnt_arr = np.ascontiguousarray(counts, dtype=np.int64).reshape(-1)
    ord_arr = np.ascontiguousarray(order, dtype=np.int64).reshape(-1)
    if cnt_arr.shape[0] != n_trees or np.any(cnt_arr < 0) or cnt_arr.sum() != ord_arr.shape[0]:
        raise ValueError("pack_nodes: counts must give each tree's share of the order")
    cdef const int64_t[::1] cnt = cnt_arr
    cdef const int64_t[::1] o = ord_arr
    cdef int64_t m = o.shape[0]
    cdef CNodeFields f
    f.left = _i64_field(left, n, "left", keep)
    f.right = _i64_field(right, n, "right", keep)
    f.feature = _i64_field(feature, n, "feature", keep)
    f.missing = _i64_field(missing, n, "missing", keep)
    f.default_left = _bool_field(default_left, n, "default_left", keep)
    f.categorical = _bool_field(categorical, n, "categorical", keep)
    f.cat_left = _i64_field(cat_left, n, "cat_left", keep)
    f.cat_known = _i64_field(cat_known, n, "cat_known", keep)
    if (left is None or right is None or feature is None or threshold is None or
            (categorical is not None and cat_left is None)):
        raise ValueError("pack_nodes: left, right, feature, threshold (and cat_left with "
                         "categorical) are required")
    cdef const float[::1] t32
    cdef const double[::1] t64
    thr = np.ascontiguousarray(threshold, dtype=np.float64 if wide else np.float32).reshape(-1)
    if thr.shape[0] != n:
        raise ValueError(f"pack_nodes: threshold has {thr.shape[0]} values for {n} nodes")
    if wide:
        t64 = thr
        f.threshold64 = &t64[0] if n else NULL
    else:
        t32 = thr
        f.threshold32 = &t32[0] if n else NULL
    width = 16 if wide else 12
    records = np.zeros((m, width), dtype=np.uint8)
    leaf_nodes = np.empty(m, dtype=np.int64)
    cdef uint8_t[:, ::1] rec = records
    cdef int64_t[::1] ln = leaf_nodes
    cdef int64_t n_leaves = 0
    cdef CStatus st
    if m:
        with nogil:
            st = c_pack_nodes(f, &off[0], n_trees, &o[0], &cnt[0] if n_trees else NULL, n,
                              n_features, wide, &rec[0, 0], &ln[0], &n_leaves)
        check_status(st)
    return records, leaf_nodes[:n_leaves]


def unique_rows(rows):
    """The distinct rows of a float64 matrix ``[n, k]`` (k >= 1) in ``np.unique(rows,
    axis=0)``'s order (lexicographic by value, NaN last); rows are distinct when their bits
    differ. Returns ``(first, inverse)``: per distinct row in that order the index of its
    first occurrence, and per row the position of its distinct row (both int64)."""
    arr = np.ascontiguousarray(rows, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"unique_rows: expected a matrix with at least one column, got shape "
                         f"{arr.shape}")
    cdef const double[:, ::1] a = arr
    cdef int64_t n = a.shape[0], k = a.shape[1]
    inverse = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] inv = inverse
    cdef vector[int64_t] first
    cdef CStatus st
    if n == 0:
        return np.zeros(0, dtype=np.int64), inverse
    with nogil:
        st = c_unique_rows(&a[0, 0], n, k, &first, &inv[0])
    check_status(st)
    return _vector_to_array(first), inverse


# -- UBJSON reading (exporters: models that frameworks save as UBJSON) ----------------------

from libcpp.vector cimport vector as cvector
from libc.string cimport memcpy


cdef class _UBJReader:
    """Decodes Universal Binary JSON (ubjson.org, big-endian; the subset with optimised
    typed and counted containers) into Python values. Arrays stored under a key named in
    ``gather`` become ``(start, count)`` into one column per key (numbers only)."""

    cdef const uint8_t* p
    cdef Py_ssize_t n
    cdef Py_ssize_t i
    cdef dict gather  # key -> column index
    cdef list names
    cdef cvector[cvector[double]] fcols
    cdef cvector[cvector[int64_t]] icols
    cdef list kinds  # per column: None (unset), "f" or "i"

    cdef int fail(self, str what) except -1:
        raise ValueError(f"malformed UBJSON at byte {self.i}: {what}")

    cdef inline int need(self, Py_ssize_t k) except -1:
        if k < 0 or self.n - self.i < k:
            self.fail("truncated")
        return 0

    cdef uint64_t be(self, int k) except? 0xFFFFFFFFFFFFFFFF:
        cdef uint64_t v = 0
        cdef int j
        self.need(k)
        for j in range(k):
            v = (v << 8) | self.p[self.i + j]
        self.i += k
        return v

    cdef int64_t read_int(self, uint8_t t) except? -1:
        cdef uint64_t v
        if t == b'i':
            v = self.be(1)
            return <int64_t>(<signed char>(<uint8_t>v))
        if t == b'U':
            return <int64_t>self.be(1)
        if t == b'I':
            v = self.be(2)
            return <int64_t>(<short>(<unsigned short>v))
        if t == b'l':
            v = self.be(4)
            return <int64_t>(<int>(<uint32_t>v))
        if t == b'L':
            return <int64_t>self.be(8)
        self.fail(f"expected an integer type, got {chr(t)!r}")

    cdef double read_float(self, uint8_t t) except? -1.0:
        cdef uint64_t v
        cdef uint32_t w
        cdef float f
        cdef double d
        if t == b'd':
            w = <uint32_t>self.be(4)
            memcpy(&f, &w, 4)
            return f
        v = self.be(8)
        memcpy(&d, &v, 8)
        return d

    cdef uint8_t marker(self) except? 0:
        cdef uint8_t t
        while True:
            self.need(1)
            t = self.p[self.i]
            self.i += 1
            if t != b'N':
                return t

    cdef int64_t length(self) except -1:
        cdef int64_t n = self.read_int(self.marker())
        if n < 0 or n > self.n:
            self.fail(f"length {n} out of range")
        return n

    cdef str text(self):
        cdef int64_t k = self.length()
        self.need(k)
        s = (<const char*>self.p + self.i)[:k].decode("utf-8")
        self.i += k
        return s

    cdef object value(self, uint8_t t, int depth):
        if t == b'{' or t == b'[':
            return self.container(t, depth + 1, None)
        if t == b'Z':
            return None
        if t == b'T':
            return True
        if t == b'F':
            return False
        if t == b'i' or t == b'U' or t == b'I' or t == b'l' or t == b'L':
            return self.read_int(t)
        if t == b'd' or t == b'D':
            return self.read_float(t)
        if t == b'S' or t == b'H':
            return self.text()
        if t == b'C':
            self.need(1)
            self.i += 1
            return chr(self.p[self.i - 1])
        self.fail(f"unknown type marker {chr(t)!r}")

    cdef object container(self, uint8_t kind, int depth, object column):
        cdef uint8_t etype = 0
        cdef int64_t count = -1
        cdef int64_t k
        cdef uint8_t t
        if depth > 64:
            self.fail("nested more than 64 levels deep")
        self.need(1)
        if self.p[self.i] == b'$':
            self.i += 1
            self.need(1)
            etype = self.p[self.i]
            self.i += 1
            self.need(1)
            if self.p[self.i] != b'#':
                self.fail("a typed container needs a count")
        self.need(1)
        if self.p[self.i] == b'#':
            self.i += 1
            count = self.length()
        if kind == b'[' and column is not None:
            return self.gathered(<int>column, etype, count)
        if kind == b'[':
            out = []
            k = 0
            while count < 0 or k < count:
                if etype:
                    t = etype
                else:
                    t = self.marker()
                    if count < 0 and t == b']':
                        break
                out.append(self.value(t, depth))
                k += 1
            return out
        d = {}
        k = 0
        while count < 0 or k < count:
            if count < 0:
                self.need(1)
                if self.p[self.i] == b'}':
                    self.i += 1
                    break
            key = self.text()
            t = etype if etype else self.marker()
            col = self.gather.get(key)
            if col is not None and (t == b'['):
                d[key] = self.container(t, depth + 1, col)
            else:
                d[key] = self.value(t, depth)
            k += 1
        return d

    cdef tuple gathered(self, int col, uint8_t etype, int64_t count):
        cdef uint8_t t
        cdef int64_t k = 0
        cdef bint is_float
        cdef size_t start
        kind = self.kinds[col]
        cdef cvector[double]* fc = &self.fcols[col]
        cdef cvector[int64_t]* ic = &self.icols[col]
        start = fc.size() if kind == "f" else ic.size()
        if etype and count >= 0:  # a typed array: one bounds check, then a tight loop
            return self.gathered_typed(col, etype, count)
        while count < 0 or k < count:
            if etype:
                t = etype
            else:
                t = self.marker()
                if count < 0 and t == b']':
                    break
            is_float = t == b'd' or t == b'D'
            if kind is None:
                kind = "f" if is_float else "i"
                self.kinds[col] = kind
                start = 0
            if is_float:
                if kind != "f":
                    self.fail(f"column {self.names[col]!r} mixes integers and floats")
                fc.push_back(self.read_float(t))
            else:
                if kind == "f":
                    self.fail(f"column {self.names[col]!r} mixes integers and floats")
                ic.push_back(self.read_int(t))
            k += 1
        return (<int64_t>start, k)


    cdef tuple gathered_typed(self, int col, uint8_t etype, int64_t count):
        cdef int size
        cdef bint is_float = etype == b'd' or etype == b'D'
        if etype == b'i' or etype == b'U':
            size = 1
        elif etype == b'I':
            size = 2
        elif etype == b'l' or etype == b'd':
            size = 4
        elif etype == b'L' or etype == b'D':
            size = 8
        else:
            self.fail(f"column {self.names[col]!r} holds non-numbers ({chr(etype)!r})")
        kind = self.kinds[col]
        if kind is None:
            kind = "f" if is_float else "i"
            self.kinds[col] = kind
        if (kind == "f") != is_float:
            self.fail(f"column {self.names[col]!r} mixes integers and floats")
        if count > (self.n - self.i) // size:
            self.fail("truncated")
        cdef const uint8_t* q = self.p + self.i
        cdef cvector[double]* fc = &self.fcols[col]
        cdef cvector[int64_t]* ic = &self.icols[col]
        cdef size_t start = fc.size() if is_float else ic.size()
        cdef int64_t k
        cdef uint32_t w
        cdef uint64_t v
        cdef float f
        cdef double d
        with nogil:
            if is_float:
                fc.resize(start + <size_t>count)
            else:
                ic.resize(start + <size_t>count)
            for k in range(count):
                if etype == b'd':
                    w = ((<uint32_t>q[0] << 24) | (<uint32_t>q[1] << 16) | (<uint32_t>q[2] << 8)
                         | <uint32_t>q[3])
                    memcpy(&f, &w, 4)
                    fc[0][start + k] = f
                elif etype == b'D':
                    v = ((<uint64_t>q[0] << 56) | (<uint64_t>q[1] << 48) | (<uint64_t>q[2] << 40)
                         | (<uint64_t>q[3] << 32) | (<uint64_t>q[4] << 24) | (<uint64_t>q[5] << 16)
                         | (<uint64_t>q[6] << 8) | <uint64_t>q[7])
                    memcpy(&d, &v, 8)
                    fc[0][start + k] = d
                elif etype == b'i':
                    ic[0][start + k] = <signed char>q[0]
                elif etype == b'U':
                    ic[0][start + k] = q[0]
                elif etype == b'I':
                    ic[0][start + k] = <short>(<unsigned short>((q[0] << 8) | q[1]))
                elif etype == b'l':
                    ic[0][start + k] = <int>((<uint32_t>q[0] << 24) | (<uint32_t>q[1] << 16)
                                             | (<uint32_t>q[2] << 8) | <uint32_t>q[3])
                else:
                    ic[0][start + k] = <int64_t>((<uint64_t>q[0] << 56) | (<uint64_t>q[1] << 48)
                                                 | (<uint64_t>q[2] << 40) | (<uint64_t>q[3] << 32)
                                                 | (<uint64_t>q[4] << 24) | (<uint64_t>q[5] << 16)
                                                 | (<uint64_t>q[6] << 8) | <uint64_t>q[7])
                q += size
        self.i += count * size
        return (<int64_t>start, count)


def ubjson_decode(data, gather=()):
    """Decodes UBJSON bytes (``ubjson.org``: big-endian numbers, optimised ``$``/``#``
    containers) into dicts, lists, str, int, float, bool and None.

    Arrays of numbers stored under an object key named in ``gather`` are not built as lists:
    their values are appended to one column per key, and the array is replaced by
    ``(start, count)`` into that column. Returns ``(value, columns)`` with ``columns`` mapping
    each gathered key to a float64 array (float elements) or an int64 one (integers). Raises
    ValueError for malformed or truncated input."""
    cdef _UBJReader r = _UBJReader.__new__(_UBJReader)
    cdef Py_buffer b
    cdef uint8_t t
    names = list(gather)
    r.gather = {k: i for i, k in enumerate(names)}
    r.names = names
    r.kinds = [None] * len(names)
    r.fcols.resize(len(names))
    r.icols.resize(len(names))
    import gc

    was_enabled = gc.isenabled()
    gc.disable()  # the values built hold no cycles; collections would dominate the decoding
    PyObject_GetBuffer(data, &b, PyBUF_ANY_CONTIGUOUS)
    try:
        r.p = <const uint8_t*> b.buf
        r.n = b.len
        r.i = 0
        t = r.marker()
        value = r.value(t, 0)
        if r.i != r.n:
            r.fail("trailing bytes after the value")
    finally:
        PyBuffer_Release(&b)
        if was_enabled:
            gc.enable()
    columns = {}
    cdef size_t j, m
    for j in range(len(names)):
        if r.kinds[j] == "f":
            m = r.fcols[j].size()
            arr = np.empty(m, dtype=np.float64)
            if m:
                memcpy(<void*><uintptr_t>arr.ctypes.data, r.fcols[j].data(), m * 8)
        else:
            m = r.icols[j].size()
            arr = np.empty(m, dtype=np.int64)
            if m:
                memcpy(<void*><uintptr_t>arr.ctypes.data, r.icols[j].data(), m * 8)
        columns[names[j]] = arr
    return value, columns


# -- Numbers of "key=v1 v2 ..." text lines (exporters of frameworks' text models) -----------

cdef object _f64_array(vector[double]& v):
    out = np.empty(v.size(), dtype=np.float64)
    if v.size():
        memcpy(<void*><uintptr_t>out.ctypes.data, v.data(), v.size() * 8)
    return out


cdef object _i64_array(vector[int64_t]& v):
    out = np.empty(v.size(), dtype=np.int64)
    if v.size():
        memcpy(<void*><uintptr_t>out.ctypes.data, v.data(), v.size() * 8)
    return out


def text_columns(data, keys):
    """Reads the numbers of the lines ``key=v1 v2 ...`` of ``data`` (bytes-like, ASCII text)
    whose key is one of ``keys``: returns ``{key: (values, counts, lines)}``, every number of
    every such line in order (float64, parsed exactly), the count per line and each line's
    0-based number (int64). Values are separated by spaces; anything else on such a line
    raises FormatError."""
    cdef vector[string] ks
    for k in keys:
        ks.push_back(k.encode() if isinstance(k, str) else bytes(k))
    cdef vector[CTextColumn] cols
    cdef Py_buffer b
    cdef CStatus st
    PyObject_GetBuffer(data, &b, PyBUF_ANY_CONTIGUOUS)
    try:
        with nogil:
            st = c_text_columns(<const char*> b.buf, <size_t> b.len, ks, &cols)
    finally:
        PyBuffer_Release(&b)
    check_status(st)
    out = {}
    cdef size_t j
    for j, k in enumerate(keys):
        out[k] = (_f64_array(cols[j].values), _i64_array(cols[j].counts),
                  _i64_array(cols[j].lines))
    return out
