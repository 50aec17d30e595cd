# Declarations of the C++ core (only `cdef extern` blocks; C++ types carry a C prefix).
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector


cdef extern from "mle/status.h" namespace "mle" nogil:
    ctypedef enum CCode "mle::Code":
        CCODE_OK "mle::Code::kOk"
        CCODE_FORMAT "mle::Code::kFormat"
        CCODE_INPUT "mle::Code::kInput"
        CCODE_UNSUPPORTED "mle::Code::kUnsupported"
        CCODE_IO "mle::Code::kIO"
        CCODE_MEMORY "mle::Code::kMemory"
        CCODE_INTERNAL "mle::Code::kInternal"

    cdef cppclass CStatus "mle::Status":
        CCode code
        int err_no
        string message
        cbool ok()
        int code_value()


cdef extern from "mle/tensor.h" namespace "mle" nogil:
    ctypedef enum CDType "mle::DType":
        CDT_F32 "mle::DType::kF32"
        CDT_F64 "mle::DType::kF64"
        CDT_I64 "mle::DType::kI64"


cdef extern from "mle/crc32c.h" namespace "mle" nogil:
    uint32_t c_crc32c "mle::crc32c"(const void* data, size_t n, uint32_t crc)
    const char* c_crc32c_impl "mle::crc32c_impl"()


cdef extern from "mle/build_info.h" namespace "mle" nogil:
    cbool c_built_with_openmp "mle::built_with_openmp"()
    int c_max_threads "mle::max_threads"()
    const char* c_simd_level "mle::simd_level"()


cdef extern from "mle/dense.h" namespace "mle::dense" nogil:
    const char* c_dense_isa "mle::dense::isa"()
    string c_dense_blas_info "mle::dense::blas_info"()
    void c_dense_set_reference "mle::dense::set_reference"(cbool on)
    cbool c_dense_reference "mle::dense::reference"()
    void c_dense_self_check "mle::dense::self_check"(double* own_diff, double* blas_rel)


cdef extern from "mle/layout.h" namespace "mle::layout" nogil:
    cdef struct CFieldInfo "mle::layout::FieldInfo":
        const char* record
        const char* field
        size_t offset
        size_t size
    const CFieldInfo* c_persisted_fields "mle::layout::persisted_fields"()


cdef extern from "mle/container.h" namespace "mle" nogil:
    cdef cppclass CBuffer "mle::Buffer":
        @staticmethod
        size_t read_threshold()
        @staticmethod
        void set_read_threshold(size_t n)

    cdef cppclass CSection "mle::Section":
        uint32_t kind
        uint32_t flags
        uint64_t offset
        uint64_t size
        uint32_t crc
        cbool verified
        const uint8_t* data

    ctypedef enum CFileKind "mle::FileKind":
        CFK_MODEL "mle::FileKind::kModel"
        CFK_ENVELOPE "mle::FileKind::kEnvelope"
        CFK_VALUE "mle::FileKind::kValue"

    cdef cppclass CContainer "mle::Container":
        uint16_t major
        uint16_t minor
        uint32_t flags
        CFileKind kind
        cbool parsed
        vector[CSection] sections

    cdef cppclass CVerifyPolicy "mle::VerifyPolicy":
        cbool all
        uint64_t kinds
        cbool model_files_only

    CStatus c_parse_file "mle::parse_file"(const uint8_t* data, size_t size, uint64_t file_size,
                                          const CVerifyPolicy& verify, CContainer* out)


cdef extern from "mle/plan.h" namespace "mle" nogil:
    cdef cppclass CPlanOutput "mle::PlanOutput":
        string name
        int value
        cbool ravel

    cdef cppclass CModel "mle::Model":
        CModel()
        CStatus load_file(const char* path)
        CStatus load_bytes(const void* data, size_t size)
        CStatus load_view(const void* data, size_t size)
        const uint8_t* file_data() const
        CStatus run(int out_idx, const void* X, CDType x_dtype, int64_t n, int64_t x_cols,
                    void* out, int n_threads) const
        int num_outputs() const
        const CPlanOutput& output(int i) const
        int64_t output_cols(int i) const
        CDType output_dtype(int i, CDType x_dtype) const
        int64_t n_features() const
        const string& name() const
        const CSection& meta() const
        const CContainer& container() const
        cbool mapped() const
        size_t file_size() const
        int num_nodes() const
        const string& rules() const


cdef extern from "mle/kernel.h" namespace "mle" nogil:
    cdef cppclass CAttrSpec "mle::AttrSpec":
        const char* name
        cbool presence
        vector[string] values

    cdef cppclass COpEntry "mle::OpEntry":
        const char* name
        int inputs
        vector[CAttrSpec] attrs

    const vector[COpEntry]& c_registered_ops "mle::registered_ops"()
    string c_describe_kind "mle::describe_kind"(const CAttrSpec& a)


cdef extern from "mle/pack.h" namespace "mle::pack" nogil:
    CStatus c_tree_order "mle::pack::tree_order"(const int64_t* left, const int64_t* right,
                                                 const int64_t* offsets, int64_t n_trees,
                                                 vector[int64_t]* order, int64_t* counts)
    CStatus c_unique_rows "mle::pack::unique_rows"(const double* rows, int64_t n, int64_t k,
                                                   vector[int64_t]* first, int64_t* inverse)

    cdef cppclass CNodeFields "mle::pack::NodeFields":
        const int64_t* left
        const int64_t* right
        const int64_t* feature
        const float* threshold32
        const double* threshold64
        const int64_t* missing
        const uint8_t* default_left
        const uint8_t* categorical
        const int64_t* cat_left
        const int64_t* cat_known

    CStatus c_pack_nodes "mle::pack::pack_nodes"(const CNodeFields& f, const int64_t* offsets,
                                                 int64_t n_trees, const int64_t* order,
                                                 const int64_t* counts, int64_t n_fields,
                                                 int64_t n_features, cbool wide,
                                                 uint8_t* records, int64_t* leaf_nodes,
                                                 int64_t* n_leaves)


cdef extern from "mle/textcols.h" namespace "mle::textcols" nogil:
    cdef cppclass CTextColumn "mle::textcols::Column":
        vector[double] values
        vector[int64_t] counts
        vector[int64_t] lines

    CStatus c_text_columns "mle::textcols::read"(const char* text, size_t size,
                                                 const vector[string]& keys,
                                                 vector[CTextColumn]* columns)


cdef extern from "mle/trees.h" namespace "mle::trees" nogil:
    int c_walk_code "mle::trees::walk_code"()
    void c_set_walk_code "mle::trees::set_walk_code"(int w)
