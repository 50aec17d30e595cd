// Byte layout of the .mle container, format version 1 (docs/FORMAT.md is the specification).
// Every struct here is persisted: it has a numpy dtype twin in mle_runtime/format/layout.py and
// a test that sizes and offsets agree. All integers are little-endian.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mle {
namespace layout {

constexpr uint8_t kMagic[8] = {0x89, 'M', 'L', 'E', '\r', '\n', 0x1A, '\n'};
constexpr uint16_t kMajor = 1;
constexpr uint16_t kMinor = 0;
constexpr uint32_t kSectionAlign = 8;    // every section starts at a multiple of this
// Every tensor starts at a file offset that is a multiple of its element size (checked by
// readers); writers put tensors of kBigTensor bytes or more at multiples of kDataAlign.
constexpr uint32_t kDataAlign = 64;
constexpr uint32_t kBigTensor = 1024;
constexpr uint32_t kHeaderSize = 64;
constexpr uint32_t kMaxSections = 1u << 20;
constexpr uint64_t kMaxMetaJson = 16ull << 20;   // 16 MiB
constexpr uint64_t kMaxGraphJson = 16ull << 20;  // 16 MiB
constexpr uint64_t kMaxEnvelopeJson = 1ull << 20;  // 1 MiB
constexpr uint64_t kMaxValueJson = 64ull << 20;    // 64 MiB
constexpr uint64_t kSignatureSize = 104;  // "ed25519\0" + sha256(public key) + signature

// Header flags (all must be understood by the reader; unknown bits are refused).
constexpr uint32_t kKnownFlags = 0;

// Section kinds.
constexpr uint32_t kSectionMeta = 1;    // UTF-8 JSON object: descriptive metadata
constexpr uint32_t kSectionGraph = 2;   // UTF-8 JSON object: the graph the plan executes
constexpr uint32_t kSectionData = 3;    // tensor data: little-endian C-order arrays, packed
// Format 1.1 (docs/FORMAT.md, section 16): envelopes and signatures.
constexpr uint32_t kSectionEnvelope = 4;   // UTF-8 JSON object describing the payload
constexpr uint32_t kSectionPayload = 5;    // the inner .mle file, compressed and/or encrypted
constexpr uint32_t kSectionSignature = 6;  // optional; Ed25519 signature of the whole file
// Format 1.2 (docs/FORMAT.md, section 17): value files.
constexpr uint32_t kSectionValue = 7;   // UTF-8 JSON: the value's tree
constexpr uint32_t kSectionModel = 8;   // may repeat; a complete plain .mle file
constexpr uint32_t kSectionPickle = 9;  // pickled objects, read only with allow_pickle=True
// Format 1.4 (docs/FORMAT.md, section 19): the estimator record, written with the optional
// flag. Descriptive only (fitted attributes and parameters); the native reader does not
// interpret it and skips it as an optional section of a kind it does not read.
constexpr uint32_t kSectionEstimator = 10;
constexpr uint32_t kSectionEstimatorData = 11;  // optional; the record's arrays

// Section flags.
constexpr uint32_t kSectionOptional = 1u << 0;  // a reader may skip it if it does not know the kind

#pragma pack(push, 1)
struct Header {
  uint8_t magic[8];        // 0..8
  uint16_t major;          // 8..10
  uint16_t minor;          // 10..12
  uint32_t flags;          // 12..16
  uint64_t file_size;      // 16..24  total bytes of the file
  uint32_t section_count;  // 24..28
  uint32_t table_crc;      // 28..32  CRC-32C of the section table
  uint8_t reserved[28];    // 32..60  zero
  uint32_t header_crc;     // 60..64  CRC-32C of bytes 0..60
};

struct SectionEntry {
  uint32_t kind;      // 0..4
  uint32_t flags;     // 4..8
  uint64_t offset;    // 8..16  from the start of the file, multiple of kSectionAlign
  uint64_t size;      // 16..24 bytes
  uint32_t crc;       // 24..28 CRC-32C of the section bytes
  uint32_t reserved;  // 28..32 zero
};
#pragma pack(pop)

// Offsets and sizes of every persisted field, for the test that checks the numpy dtype twins.
struct FieldInfo {
  const char* record;  // nullptr terminates the table
  const char* field;
  size_t offset;
  size_t size;
};
const FieldInfo* persisted_fields();

static_assert(sizeof(Header) == kHeaderSize, "header must be 64 bytes");
static_assert(sizeof(SectionEntry) == 32, "section entry must be 32 bytes");

}  // namespace layout
}  // namespace mle
