// Opening and validating a .mle container: header, section table, checksums.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mle/layout.h"
#include "mle/status.h"

namespace mle {

// Owns the bytes of a file: either a private read-only mapping or an aligned heap copy.
class Buffer {
 public:
  Buffer() = default;
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool mapped() const { return mapped_; }

  // Files up to kReadThreshold bytes are read into memory (cheaper than a mapping for tiny
  // files); larger ones are memory-mapped read-only, their pages shared with every process
  // that maps the same file. Measured on a quiet 2-core VM: mapping and faulting in 784 KB took
  // 27 us against 30 us to read it, 1.8 MB 45 us against 67 us (and 107 us with MAP_POPULATE).
  static constexpr size_t kReadThreshold = 64 * 1024;
  // The threshold in use (kReadThreshold unless a test lowered it to reach the mapped path
  // with small files).
  static size_t read_threshold();
  static void set_read_threshold(size_t n);
  Status open_file(const char* path);
  Status copy_from(const void* src, size_t n);
  // Uses n bytes at src without copying them. The caller keeps them alive and unchanged for
  // the Buffer's lifetime (the Cython layer holds a read-only Python buffer export).
  Status borrow(const void* src, size_t n);
  bool borrowed() const { return borrowed_; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  bool borrowed_ = false;
};

struct Section {
  uint32_t kind = 0;
  uint32_t flags = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t crc = 0;        // the checksum recorded in the section table
  bool verified = false;   // the section's bytes were checked against `crc`
  const uint8_t* data = nullptr;  // nullptr when the parsed bytes hold only a prefix
};

// What a container holds (docs/FORMAT.md, section 5): a model (it has a graph section), an
// envelope (envelope and payload sections) or a value file (value, model, pickle sections).
// The kinds of section never mix; a file with none of them (metadata only) counts as a model
// file without a graph, which parse_container refuses.
enum class FileKind : int { kModel = 0, kEnvelope = 1, kValue = 2 };

struct Container {
  uint16_t major = 0, minor = 0;
  uint32_t flags = 0;
  FileKind kind = FileKind::kModel;
  bool parsed = false;  // every structural check passed (kind is then meaningful)
  std::vector<Section> sections;  // in table order (section index = position)
  int meta_index = -1;
  int graph_index = -1;
  int data_index = -1;  // absent when the model has no tensors
};

// Which section checksums parse_file verifies (the header and table checksums always are).
struct VerifyPolicy {
  bool all = true;             // every section, whatever its kind
  uint64_t kinds = 0;          // else the sections of kind k < 64 with bit k set
  bool model_files_only = false;  // verify nothing unless the file is a model file
  bool wants(uint32_t kind, FileKind file) const {
    if (model_files_only && file != FileKind::kModel) return false;
    return all || (kind < 64 && (kinds >> kind) & 1);
  }
};

// The one container parser (docs/FORMAT.md, section 7): validates the header and the section
// table of any .mle file, decides its kind and verifies the checksums `verify` asks for.
// `data` holds the file's first `size` bytes; `file_size` is the file's length (0: `size`).
// With file_size > size (a prefix holding at least the header and table, as the model cache
// reads) sections are checked against file_size and nothing beyond the prefix is read or
// verified. Messages are the ones every entry point reports.
Status parse_file(const uint8_t* data, size_t size, uint64_t file_size, const VerifyPolicy& verify,
                  Container* out);

// parse_file for the model loader: every checksum of a model file; refuses envelopes and value
// files (out->parsed and out->kind then say which kind the file is, so that a caller can hand
// it to the layer that reads it) and model files without a graph section.
Status parse_container(const uint8_t* data, size_t size, Container* out);

const char* file_kind_name(FileKind kind);

}  // namespace mle
