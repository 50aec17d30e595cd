// CRC-32C (Castagnoli), the per-section checksum of the .mle format.
// Uses the SSE4.2 crc32 instruction when the CPU has it (chosen at run time),
// ARMv8 CRC32C instructions on aarch64, and a slicing-by-8 table otherwise.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mle {

// crc32c(data, n, 0) is the standard CRC-32C of the bytes; pass a previous result to continue.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// The CRC of A||B from crc(A), crc(B) and the length of B.
uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2);
// Same value as crc32c(data, n), computed on several threads for large buffers.
uint32_t crc32c_parallel(const void* data, size_t n);
// "sse4.2", "armv8-crc" or "table".
const char* crc32c_impl();

}  // namespace mle
