#include "mle/crc32c.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "mle/threads.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <nmmintrin.h>
#define MLE_X86 1
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

namespace mle {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : (c >> 1);
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};

const Tables& tables() {
  static const Tables tb;
  return tb;
}

// Multiplies two polynomials modulo P in the reflected domain.
uint32_t gf2_multiply(uint32_t a, uint32_t b) {
  uint32_t prod = 0;
  for (int i = 0; i < 32; ++i) {
    if (a & 0x80000000u) prod ^= b;
    a <<= 1;
    b = (b & 1) ? (b >> 1) ^ kPoly : (b >> 1);
  }
  return prod;
}

// x^(8*len) mod P in the reflected domain, for shifting a CRC over `len` zero bytes.
uint32_t shift_constant(size_t len) {
  uint32_t result = 0x80000000u;  // x^0
  uint32_t sq = 0x00800000u;      // x^8 (one byte)
  size_t k = len;
  while (k) {
    if (k & 1) result = gf2_multiply(result, sq);
    sq = gf2_multiply(sq, sq);
    k >>= 1;
  }
  return result;
}

uint32_t crc_table(const uint8_t* p, size_t n, uint32_t crc) {
  const Tables& tb = tables();
  while (n && (reinterpret_cast<uintptr_t>(p) & 7)) {
    crc = tb.t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    --n;
  }
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);  // the format is little-endian; so are all supported hosts
    w ^= crc;
    crc = tb.t[7][w & 0xFF] ^ tb.t[6][(w >> 8) & 0xFF] ^ tb.t[5][(w >> 16) & 0xFF] ^
          tb.t[4][(w >> 24) & 0xFF] ^ tb.t[3][(w >> 32) & 0xFF] ^ tb.t[2][(w >> 40) & 0xFF] ^
          tb.t[1][(w >> 48) & 0xFF] ^ tb.t[0][(w >> 56) & 0xFF];
    p += 8;
    n -= 8;
  }
  while (n--) crc = tb.t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

#ifdef MLE_X86
// Three independent streams hide the 3-cycle latency of the crc32 instruction; the
// partial results are merged by shifting with the table-free GF(2) multiply below.
__attribute__((target("sse4.2"))) uint32_t crc_sse42_serial(const uint8_t* p, size_t n,
                                                             uint32_t crc) {
  uint64_t c = crc;
  while (n && (reinterpret_cast<uintptr_t>(p) & 7)) {
    c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
    --n;
  }
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  while (n--) c = _mm_crc32_u8(static_cast<uint32_t>(c), *p++);
  return static_cast<uint32_t>(c);
}

__attribute__((target("sse4.2"))) uint32_t crc_sse42(const uint8_t* p, size_t n, uint32_t crc) {
  constexpr size_t kStripe = 8192;  // bytes per stream per round
  if (n < 3 * kStripe) return crc_sse42_serial(p, n, crc);
  static const uint32_t kShift = shift_constant(kStripe);
  uint32_t c = crc;
  while (n >= 3 * kStripe) {
    uint64_t a = c, b = 0, d = 0;
    const uint8_t* pa = p;
    const uint8_t* pb = p + kStripe;
    const uint8_t* pd = p + 2 * kStripe;
    for (size_t i = 0; i < kStripe; i += 8) {
      uint64_t wa, wb, wd;
      std::memcpy(&wa, pa + i, 8);
      std::memcpy(&wb, pb + i, 8);
      std::memcpy(&wd, pd + i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      d = _mm_crc32_u64(d, wd);
    }
    // crc(A||B||D) = shift(shift(a) ^ b) ^ d, where streams b and d started from 0.
    uint32_t ab = gf2_multiply(static_cast<uint32_t>(a), kShift) ^ static_cast<uint32_t>(b);
    c = gf2_multiply(ab, kShift) ^ static_cast<uint32_t>(d);
    p += 3 * kStripe;
    n -= 3 * kStripe;
  }
  return crc_sse42_serial(p, n, c);
}
#endif

#ifdef MLE_X86
// Carry-less multiplication folding with 512-bit VPCLMULQDQ (Intel's "Fast CRC Computation
// Using PCLMULQDQ", for a reflected polynomial): four registers of four 128-bit lanes each
// take in 256 bytes per round; a lane X (lo, hi 64-bit halves) moves forward by D bits as
// clmul(lo, K(D + 32)) ^ clmul(hi, K(D - 32)), with K(n) = reflect32(x^n mod P) << 1. What is
// left folds down to one 128-bit value whose CRC (the crc32 instruction over its 16 bytes,
// from 0) is the CRC of everything folded, the initial CRC having been xored into the first
// four bytes; the tail goes through crc_sse42.
uint32_t crc_sse42(const uint8_t* p, size_t n, uint32_t crc);

uint64_t fold_constant(size_t bits) {
  // shift_constant(len) is x^(8 len) mod P in reflected form; n = bits is a multiple of 8
  return static_cast<uint64_t>(shift_constant(bits / 8)) << 1;
}

// Each 128-bit lane of x moved forward (k: the lanes' constants) and xored into next.
__attribute__((target("avx512f,vpclmulqdq"))) inline __m512i fold(__m512i x, __m512i k,
                                                                  __m512i next) {
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                   _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

__attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.2"))) uint32_t crc_vpclmul(
    const uint8_t* p, size_t n, uint32_t crc) {
  static const uint64_t k2048_lo = fold_constant(2048 + 32), k2048_hi = fold_constant(2048 - 32);
  static const uint64_t k512_lo = fold_constant(512 + 32), k512_hi = fold_constant(512 - 32);
  static const uint64_t k128_lo = fold_constant(128 + 32), k128_hi = fold_constant(128 - 32);
  const __m512i k2048 = _mm512_set_epi64(k2048_hi, k2048_lo, k2048_hi, k2048_lo, k2048_hi,
                                         k2048_lo, k2048_hi, k2048_lo);
  const __m512i k512 = _mm512_set_epi64(k512_hi, k512_lo, k512_hi, k512_lo, k512_hi, k512_lo,
                                        k512_hi, k512_lo);
  __m512i a = _mm512_xor_si512(_mm512_loadu_si512(p),
                               _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(crc))));
  __m512i b = _mm512_loadu_si512(p + 64);
  __m512i c = _mm512_loadu_si512(p + 128);
  __m512i d = _mm512_loadu_si512(p + 192);
  size_t done = 256;
  for (; done + 256 <= n; done += 256) {
    a = fold(a, k2048, _mm512_loadu_si512(p + done));
    b = fold(b, k2048, _mm512_loadu_si512(p + done + 64));
    c = fold(c, k2048, _mm512_loadu_si512(p + done + 128));
    d = fold(d, k2048, _mm512_loadu_si512(p + done + 192));
  }
  b = fold(a, k512, b);
  c = fold(b, k512, c);
  d = fold(c, k512, d);
  const __m128i k128 = _mm_set_epi64x(static_cast<long long>(k128_hi),
                                      static_cast<long long>(k128_lo));
  __m128i x = _mm512_extracti32x4_epi32(d, 0);
  const __m128i lanes[3] = {_mm512_extracti32x4_epi32(d, 1), _mm512_extracti32x4_epi32(d, 2),
                            _mm512_extracti32x4_epi32(d, 3)};
  for (const __m128i& next : lanes)
    x = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k128, 0x00),
                                    _mm_clmulepi64_si128(x, k128, 0x11)),
                      next);
  uint64_t r = _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(x)));
  r = _mm_crc32_u64(r, static_cast<uint64_t>(_mm_extract_epi64(x, 1)));
  return crc_sse42(p + done, n - done, static_cast<uint32_t>(r));
}

// crc_sse42, with the folding path for buffers of 4 KiB and more where the CPU has it.
uint32_t crc_x86_best(const uint8_t* p, size_t n, uint32_t crc) {
  if (n >= 4096) return crc_vpclmul(p, n, crc);
  return crc_sse42(p, n, crc);
}
#endif

#if defined(__aarch64__)
__attribute__((target("+crc"))) uint32_t crc_arm(const uint8_t* p, size_t n, uint32_t crc) {
  uint32_t c = crc;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = __builtin_aarch64_crc32cx(c, w);
    p += 8;
    n -= 8;
  }
  while (n--) c = __builtin_aarch64_crc32cb(c, *p++);
  return c;
}
#endif

using CrcFn = uint32_t (*)(const uint8_t*, size_t, uint32_t);

struct Impl {
  CrcFn fn = crc_table;
  const char* name = "table";
  Impl() {
#ifdef MLE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) { fn = crc_sse42; name = "sse4.2"; }
    if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul")) {
      fn = crc_x86_best;
      name = "avx512-vpclmulqdq";
    }
#endif
#if defined(__aarch64__)
    if (getauxval(AT_HWCAP) & HWCAP_CRC32) { fn = crc_arm; name = "armv8-crc"; }
#endif
  }
};

const Impl& impl() {
  static const Impl i;
  return i;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  return ~impl().fn(static_cast<const uint8_t*>(data), n, ~crc);
}

const char* crc32c_impl() { return impl().name; }

uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2) {
  return gf2_multiply(crc1, shift_constant(len2)) ^ crc2;
}

uint32_t crc32c_parallel(const void* data, size_t n) {
  constexpr size_t kMinChunk = 1 << 20;  // below this waking the pool costs more than it saves
  const int chunks = static_cast<int>(
      std::min<size_t>(static_cast<size_t>(threads::default_threads()), n / kMinChunk));
  if (chunks >= 2) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    const size_t step = (n / chunks + 63) / 64 * 64;
    std::vector<uint32_t> crcs(static_cast<size_t>(chunks));
    std::vector<size_t> lens(static_cast<size_t>(chunks));
    auto body = [&](int, int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const size_t begin = std::min(n, static_cast<size_t>(c) * step);
        const size_t end = c + 1 == chunks ? n : std::min(n, begin + step);
        lens[c] = end - begin;
        crcs[c] = crc32c(p + begin, end - begin);
      }
    };
    threads::parallel_for(chunks, chunks, 1, body);
    uint32_t crc = crcs[0];
    for (int c = 1; c < chunks; ++c) crc = crc32c_combine(crc, crcs[c], lens[c]);
    return crc;
  }
  return crc32c(data, n);
}

}  // namespace mle
