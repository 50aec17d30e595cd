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


def build_info():
    """Compiled features of the native core."""
    return {
        "openmp": bool(c_built_with_openmp()),
        "max_threads": c_max_threads(),
        "crc32c": c_crc32c_impl().decode(),
        "simd": c_simd_level().decode(),
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
