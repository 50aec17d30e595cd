"""Byte layout constants of the .mle format, version 1.

Mirrors ``_native/include/mle/layout.h``; the numpy dtypes below are the twins of the packed C++
structs, and ``tests/format/test_layout.py`` checks that sizes and offsets agree.
"""

import numpy as np

MAGIC = b"\x89MLE\r\n\x1a\n"
MAJOR = 1
MINOR = 0
SECTION_ALIGN = 8  # every section offset is a multiple of this
# Every tensor starts at a file offset that is a multiple of its element size; writers put
# tensors of BIG_TENSOR bytes or more at multiples of DATA_ALIGN (cache lines, SIMD loads).
DATA_ALIGN = 64
BIG_TENSOR = 1024
HEADER_SIZE = 64
SECTION_ENTRY_SIZE = 32
MAX_SECTIONS = 1 << 20
MAX_META_JSON = 16 << 20
MAX_GRAPH_JSON = 16 << 20

SECTION_META = 1
SECTION_GRAPH = 2
SECTION_DATA = 3
SECTION_OPTIONAL = 1 << 0

# Format 1.1 (docs/FORMAT.md, section 16): envelopes (compressed and/or encrypted files) and
# signatures. Only Python reads these kinds; the native reader refuses the two required ones
# (so a 1.0 reader refuses an envelope) and skips the optional signature.
MINOR_EXTENDED = 1
SECTION_ENVELOPE = 4   # required; UTF-8 JSON object describing the payload
SECTION_PAYLOAD = 5    # required; the inner .mle file, compressed and/or encrypted
SECTION_SIGNATURE = 6  # optional; Ed25519 signature of the whole file
MAX_ENVELOPE_JSON = 1 << 20

# Format 1.2 (docs/FORMAT.md, section 17): value files, which hold containers, arrays and
# models (mle_runtime.format.values). Only Python reads them; the native reader refuses the
# required kinds, so a bare-model reader refuses a value file.
MINOR_VALUES = 2

# Format 1.3 (docs/FORMAT.md, section 9.3): the graph section carries the prediction rules
# (estimator type, label sets, output options, keyword aliases, input rules), which files of
# earlier versions keep in metadata keys (section 12 maps them). Plain model files are written
# with this minor; envelopes and value files keep theirs (the models inside have their own).
MINOR_RULES = 3
SECTION_VALUE = 7      # required; UTF-8 JSON: the value's tree
SECTION_MODEL = 8      # required, may repeat; a complete plain .mle file (64-byte aligned)
SECTION_PICKLE = 9     # required; pickled objects, read only with allow_pickle=True
MAX_VALUE_JSON = 64 << 20  # parsing JSON takes up to ~30x its size in memory
# Format 1.4 (docs/FORMAT.md, section 19): the estimator record, an optional section of UTF-8
# JSON describing the fitted estimator (its class, parameters and fitted attributes, arrays as
# references to tensors). Descriptive only: outside content_hash, not read by the native
# loader (which skips it as an optional section), read by the proxies on first use. Only files
# that contain it are written as 1.4.
MINOR_ESTIMATOR = 4
SECTION_ESTIMATOR = 10  # optional; UTF-8 JSON object
SECTION_ESTIMATOR_DATA = 11  # optional; the record's arrays (packed like the tensor data)
MAX_ESTIMATOR_JSON = 16 << 20
# Format 1.5 (docs/FORMAT.md, section 19): the estimator record may instead be stored
# zlib-compressed (RFC 1950), in its own optional kind; the writer chooses it when it is
# smaller. Files that contain it are written as 1.5 (a 1.4 reader skips the section and
# reports the file as having no record).
MINOR_ESTIMATOR_ZLIB = 5
SECTION_ESTIMATOR_ZLIB = 12  # optional; zlib stream of the record's UTF-8 JSON
SIGNATURE_SIZE = 104   # b"ed25519\0" + sha256(public key) + 64-byte signature

# Format 1.4 (docs/FORMAT.md, 17.4): the numpy arrays inside a value file's pickled objects
# are stored out of band, as array nodes of the value section ("pickled_arrays") whose bytes
# lie in the tensor data section; the pickle refers to them by persistent id. Value files
# that hold such arrays are written with this minor; others keep 2.
MINOR_PICKLED_ARRAYS = 4

# Format 1.6 (docs/FORMAT.md, sections 9.4 and 19.1): a model file whose graph has no outputs
# (an estimator that predicts nothing, such as a fitted DBSCAN or TSNE: its results are fitted
# attributes of its estimator record). Only such files are written as 1.6; earlier readers
# refuse them (no outputs), the right failure for a file they cannot serve.
MINOR_FIT_ONLY = 6

# Format 1.7 (docs/FORMAT.md, section 9.8): the graph's "inverse" record, a second input Y that
# the inverse_transform output reads. Only such files are written as 1.7; earlier readers refuse
# them (an undefined input "Y", or this minor's record). Files with an output of dtype "bool"
# (9.4) are written as 1.7 too.
MINOR_INVERSE = 7

# Format 1.8 (docs/FORMAT.md, 17.6): the value section's "chain" node, a scikit-learn Pipeline
# stored in parts (native models for the runs of steps that can be, pickled steps between
# them). Only value files holding one are written as 1.8; earlier readers refuse them (an
# unknown node type), every other file is written as before.
MINOR_CHAIN = 8

HEADER_DTYPE = np.dtype(
    [
        ("magic", "V8"),
        ("major", "<u2"),
        ("minor", "<u2"),
        ("flags", "<u4"),
        ("file_size", "<u8"),
        ("section_count", "<u4"),
        ("table_crc", "<u4"),
        ("reserved", "V28"),
        ("header_crc", "<u4"),
    ]
)

SECTION_DTYPE = np.dtype(
    [
        ("kind", "<u4"),
        ("flags", "<u4"),
        ("offset", "<u8"),
        ("size", "<u8"),
        ("crc", "<u4"),
        ("reserved", "<u4"),
    ]
)

# Byte offsets of the checksum fields that writing and signing fill in or leave out
# (docs/FORMAT.md, sections 3, 4 and 16.3); everything else reads the container through the
# native parser (mle_runtime.format.container).
HEADER_TABLE_CRC = HEADER_DTYPE.fields["table_crc"][1]
HEADER_CRC = HEADER_DTYPE.fields["header_crc"][1]
ENTRY_CRC = SECTION_DTYPE.fields["crc"][1]
CRC_SIZE = 4

# Tensor element types the graph may name (persisted as numpy's type codes; little-endian).
TENSOR_DTYPES = {
    "f4": np.dtype("<f4"),
    "f8": np.dtype("<f8"),
    "i4": np.dtype("<i4"),
    "i8": np.dtype("<i8"),
    "u1": np.dtype("u1"),
    "u4": np.dtype("<u4"),
}


def align_up(n, a):
    """Smallest multiple of ``a`` not below ``n``."""
    return (n + a - 1) // a * a

# Packed tree-node records (twins of mle::trees::Node32 / Node64 in _native/include/mle/trees.h).
TREE_NODE32_DTYPE = np.dtype([("threshold", "<f4"), ("feature_flags", "<u4"), ("right", "<u4")])
TREE_NODE64_DTYPE = np.dtype([("threshold", "<f8"), ("feature_flags", "<u4"), ("right", "<u4")])
TREE_FEATURE_MASK = 0x00FFFFFF
TREE_LEAF = 1 << 31
TREE_DEFAULT_LEFT = 1 << 30
TREE_CATEGORICAL = 1 << 29
TREE_MISSING_SHIFT = 27
TREE_MISSING_NONE = 0
TREE_MISSING_NAN = 1
TREE_MISSING_ZERO = 2
TREE_MISSING_AS_ZERO = 3
