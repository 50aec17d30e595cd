// Matrix products (mle/dense.h): our own vectorised kernels for one row and small products,
// OpenBLAS for batches, and the scalar reference both are tested against.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "mle/dense.h"

namespace mle {
namespace dense {
namespace {

std::atomic<bool> g_reference{false};

// OpenBLAS runs single-threaded: the plan already spreads row blocks over our own pool, and
// OpenBLAS' own threads would oversubscribe the CPUs. Set once, when the module is loaded.
const bool kBlasSingleThreaded = [] {
  scipy_openblas_set_num_threads(1);
  return true;
}();

// Below this many rows a product is GEMV-shaped: our own kernel beats the BLAS call overhead.
constexpr int64_t kSmallRows = 4;
// Products with less work than this (multiply-adds) stay in our own kernel too.
constexpr int64_t kSmallWork = 2048;

// ------------------------------------------------------------------ the scalar reference
// Row r, column j: acc = 0; acc += a[r][i] * b[i][j] for i = 0..k-1 in order; then + bias[j].

template <class T>
void ref_rows(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
              const T* bias, T* c, int64_t ldc) {
  for (int64_t r = 0; r < m; ++r) {
    const T* ar = a + r * lda;
    T* cr = c + r * ldc;
    for (int64_t j = 0; j < n; ++j) cr[j] = T(0);
    for (int64_t i = 0; i < k; ++i) {
      const T ai = ar[i];
      const T* bi = b + i * n;
      for (int64_t j = 0; j < n; ++j) cr[j] = cr[j] + ai * bi[j];
    }
    if (bias)
      for (int64_t j = 0; j < n; ++j) cr[j] = cr[j] + bias[j];
  }
}

// ------------------------------------------------------------------ our own kernels
// The same additions as the reference, vectorised across output columns: each lane keeps one
// column's sequential sum (multiply, then add: no fused multiply-add, whose single rounding
// would differ from the reference).

#if defined(__x86_64__)
__attribute__((target("avx2"))) void own_rows_avx2(int64_t m, int64_t n, int64_t k,
                                                   const double* a, int64_t lda,
                                                   const double* b, const double* bias,
                                                   double* c, int64_t ldc) {
  for (int64_t r = 0; r < m; ++r) {
    const double* ar = a + r * lda;
    double* cr = c + r * ldc;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
      __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t i = 0; i < k; ++i) {
        const __m256d ai = _mm256_set1_pd(ar[i]);
        const double* bi = b + i * n + j;
        s0 = _mm256_add_pd(s0, _mm256_mul_pd(ai, _mm256_loadu_pd(bi)));
        s1 = _mm256_add_pd(s1, _mm256_mul_pd(ai, _mm256_loadu_pd(bi + 4)));
        s2 = _mm256_add_pd(s2, _mm256_mul_pd(ai, _mm256_loadu_pd(bi + 8)));
        s3 = _mm256_add_pd(s3, _mm256_mul_pd(ai, _mm256_loadu_pd(bi + 12)));
      }
      if (bias) {
        s0 = _mm256_add_pd(s0, _mm256_loadu_pd(bias + j));
        s1 = _mm256_add_pd(s1, _mm256_loadu_pd(bias + j + 4));
        s2 = _mm256_add_pd(s2, _mm256_loadu_pd(bias + j + 8));
        s3 = _mm256_add_pd(s3, _mm256_loadu_pd(bias + j + 12));
      }
      _mm256_storeu_pd(cr + j, s0);
      _mm256_storeu_pd(cr + j + 4, s1);
      _mm256_storeu_pd(cr + j + 8, s2);
      _mm256_storeu_pd(cr + j + 12, s3);
    }
    for (; j + 4 <= n; j += 4) {
      __m256d s0 = _mm256_setzero_pd();
      for (int64_t i = 0; i < k; ++i)
        s0 = _mm256_add_pd(s0, _mm256_mul_pd(_mm256_set1_pd(ar[i]),
                                             _mm256_loadu_pd(b + i * n + j)));
      if (bias) s0 = _mm256_add_pd(s0, _mm256_loadu_pd(bias + j));
      _mm256_storeu_pd(cr + j, s0);
    }
    for (; j < n; ++j) {
      double s = 0;
      for (int64_t i = 0; i < k; ++i) s = s + ar[i] * b[i * n + j];
      if (bias) s = s + bias[j];
      cr[j] = s;
    }
  }
}

__attribute__((target("avx2"))) void own_rows_avx2(int64_t m, int64_t n, int64_t k,
                                                   const float* a, int64_t lda, const float* b,
                                                   const float* bias, float* c, int64_t ldc) {
  for (int64_t r = 0; r < m; ++r) {
    const float* ar = a + r * lda;
    float* cr = c + r * ldc;
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
      __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t i = 0; i < k; ++i) {
        const __m256 ai = _mm256_set1_ps(ar[i]);
        const float* bi = b + i * n + j;
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(ai, _mm256_loadu_ps(bi)));
        s1 = _mm256_add_ps(s1, _mm256_mul_ps(ai, _mm256_loadu_ps(bi + 8)));
        s2 = _mm256_add_ps(s2, _mm256_mul_ps(ai, _mm256_loadu_ps(bi + 16)));
        s3 = _mm256_add_ps(s3, _mm256_mul_ps(ai, _mm256_loadu_ps(bi + 24)));
      }
      if (bias) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(bias + j));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(bias + j + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(bias + j + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(bias + j + 24));
      }
      _mm256_storeu_ps(cr + j, s0);
      _mm256_storeu_ps(cr + j + 8, s1);
      _mm256_storeu_ps(cr + j + 16, s2);
      _mm256_storeu_ps(cr + j + 24, s3);
    }
    for (; j + 8 <= n; j += 8) {
      __m256 s0 = _mm256_setzero_ps();
      for (int64_t i = 0; i < k; ++i)
        s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_set1_ps(ar[i]),
                                             _mm256_loadu_ps(b + i * n + j)));
      if (bias) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(bias + j));
      _mm256_storeu_ps(cr + j, s0);
    }
    for (; j < n; ++j) {
      float s = 0;
      for (int64_t i = 0; i < k; ++i) s = s + ar[i] * b[i * n + j];
      if (bias) s = s + bias[j];
      cr[j] = s;
    }
  }
}

__attribute__((target("avx512f"))) void own_rows_avx512(int64_t m, int64_t n, int64_t k,
                                                        const double* a, int64_t lda,
                                                        const double* b, const double* bias,
                                                        double* c, int64_t ldc) {
  for (int64_t r = 0; r < m; ++r) {
    const double* ar = a + r * lda;
    double* cr = c + r * ldc;
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
      __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t i = 0; i < k; ++i) {
        const __m512d ai = _mm512_set1_pd(ar[i]);
        const double* bi = b + i * n + j;
        s0 = _mm512_add_pd(s0, _mm512_mul_pd(ai, _mm512_loadu_pd(bi)));
        s1 = _mm512_add_pd(s1, _mm512_mul_pd(ai, _mm512_loadu_pd(bi + 8)));
        s2 = _mm512_add_pd(s2, _mm512_mul_pd(ai, _mm512_loadu_pd(bi + 16)));
        s3 = _mm512_add_pd(s3, _mm512_mul_pd(ai, _mm512_loadu_pd(bi + 24)));
      }
      if (bias) {
        s0 = _mm512_add_pd(s0, _mm512_loadu_pd(bias + j));
        s1 = _mm512_add_pd(s1, _mm512_loadu_pd(bias + j + 8));
        s2 = _mm512_add_pd(s2, _mm512_loadu_pd(bias + j + 16));
        s3 = _mm512_add_pd(s3, _mm512_loadu_pd(bias + j + 24));
      }
      _mm512_storeu_pd(cr + j, s0);
      _mm512_storeu_pd(cr + j + 8, s1);
      _mm512_storeu_pd(cr + j + 16, s2);
      _mm512_storeu_pd(cr + j + 24, s3);
    }
    // The remaining columns (fewer than 32) under a mask, eight at a time.
    for (; j < n; j += 8) {
      const int64_t w = std::min<int64_t>(8, n - j);
      const __mmask8 mask = static_cast<__mmask8>((1u << w) - 1u);
      __m512d s0 = _mm512_setzero_pd();
      for (int64_t i = 0; i < k; ++i)
        s0 = _mm512_add_pd(s0, _mm512_mul_pd(_mm512_set1_pd(ar[i]),
                                             _mm512_maskz_loadu_pd(mask, b + i * n + j)));
      if (bias) s0 = _mm512_add_pd(s0, _mm512_maskz_loadu_pd(mask, bias + j));
      _mm512_mask_storeu_pd(cr + j, mask, s0);
    }
  }
}

__attribute__((target("avx512f"))) void own_rows_avx512(int64_t m, int64_t n, int64_t k,
                                                        const float* a, int64_t lda,
                                                        const float* b, const float* bias,
                                                        float* c, int64_t ldc) {
  for (int64_t r = 0; r < m; ++r) {
    const float* ar = a + r * lda;
    float* cr = c + r * ldc;
    int64_t j = 0;
    for (; j + 64 <= n; j += 64) {
      __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t i = 0; i < k; ++i) {
        const __m512 ai = _mm512_set1_ps(ar[i]);
        const float* bi = b + i * n + j;
        s0 = _mm512_add_ps(s0, _mm512_mul_ps(ai, _mm512_loadu_ps(bi)));
        s1 = _mm512_add_ps(s1, _mm512_mul_ps(ai, _mm512_loadu_ps(bi + 16)));
        s2 = _mm512_add_ps(s2, _mm512_mul_ps(ai, _mm512_loadu_ps(bi + 32)));
        s3 = _mm512_add_ps(s3, _mm512_mul_ps(ai, _mm512_loadu_ps(bi + 48)));
      }
      if (bias) {
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(bias + j));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(bias + j + 16));
        s2 = _mm512_add_ps(s2, _mm512_loadu_ps(bias + j + 32));
        s3 = _mm512_add_ps(s3, _mm512_loadu_ps(bias + j + 48));
      }
      _mm512_storeu_ps(cr + j, s0);
      _mm512_storeu_ps(cr + j + 16, s1);
      _mm512_storeu_ps(cr + j + 32, s2);
      _mm512_storeu_ps(cr + j + 48, s3);
    }
    for (; j < n; j += 16) {
      const int64_t w = std::min<int64_t>(16, n - j);
      const __mmask16 mask = static_cast<__mmask16>((1u << w) - 1u);
      __m512 s0 = _mm512_setzero_ps();
      for (int64_t i = 0; i < k; ++i)
        s0 = _mm512_add_ps(s0, _mm512_mul_ps(_mm512_set1_ps(ar[i]),
                                             _mm512_maskz_loadu_ps(mask, b + i * n + j)));
      if (bias) s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(mask, bias + j));
      _mm512_mask_storeu_ps(cr + j, mask, s0);
    }
  }
}
#endif

enum class Isa { kScalar, kAvx2, kAvx512 };

Isa detect() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2")) return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

const Isa kIsa = detect();

template <class T>
void own_rows(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
              const T* bias, T* c, int64_t ldc) {
#if defined(__x86_64__)
  if (kIsa == Isa::kAvx512) return own_rows_avx512(m, n, k, a, lda, b, bias, c, ldc);
  if (kIsa == Isa::kAvx2) return own_rows_avx2(m, n, k, a, lda, b, bias, c, ldc);
#endif
  ref_rows(m, n, k, a, lda, b, bias, c, ldc);
}

// ------------------------------------------------------------------ OpenBLAS

void blas_nn(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
             double* c, int64_t ldc) {
  scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m),
                    static_cast<blasint>(n), static_cast<blasint>(k), 1.0, a,
                    static_cast<blasint>(lda), b, static_cast<blasint>(n), 0.0, c,
                    static_cast<blasint>(ldc));
}
void blas_nn(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
             float* c, int64_t ldc) {
  scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m),
                    static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
                    static_cast<blasint>(lda), b, static_cast<blasint>(n), 0.0f, c,
                    static_cast<blasint>(ldc));
}

template <class T>
void blas_rows(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
               const T* bias, T* c, int64_t ldc) {
  if (k == 0) {
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) c[r * ldc + j] = T(0);
  } else {
    blas_nn(m, n, k, a, lda, b, c, ldc);
  }
  if (bias)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) c[r * ldc + j] = c[r * ldc + j] + bias[j];
}

template <class T>
void matmul_t(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
              const T* bias, T* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (g_reference.load(std::memory_order_relaxed)) return ref_rows(m, n, k, a, lda, b, bias, c, ldc);
  if (m < kSmallRows || m * n * k < kSmallWork) return own_rows(m, n, k, a, lda, b, bias, c, ldc);
  blas_rows(m, n, k, a, lda, b, bias, c, ldc);
}

template <class T>
void ref_gemm_nt(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                 const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      T s = 0;
      for (int64_t i = 0; i < k; ++i) s = s + a[r * lda + i] * b[j * ldb + i];
      T v = alpha * s;
      if (beta != T(0)) v = v + beta * c[r * ldc + j];
      c[r * ldc + j] = v;
    }
}

}  // namespace

const char* isa() {
  switch (kIsa) {
    case Isa::kAvx512: return "avx512f";
    case Isa::kAvx2: return "avx2";
    default: return "scalar";
  }
}

std::string blas_info() {
  (void)kBlasSingleThreaded;
  std::string cfg = scipy_openblas_get_config();
  // "OpenBLAS 0.3.x DYNAMIC_ARCH ...": keep the name and version.
  size_t sp = cfg.find(' ');
  sp = sp == std::string::npos ? sp : cfg.find(' ', sp + 1);
  return cfg.substr(0, sp) + " (" + scipy_openblas_get_corename() + ")";
}

void set_reference(bool on) { g_reference.store(on); }
bool reference() { return g_reference.load(); }

void matmul(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
            const double* bias, double* c, int64_t ldc) {
  matmul_t(m, n, k, a, lda, b, bias, c, ldc);
}
void matmul(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
            const float* bias, float* c, int64_t ldc) {
  matmul_t(m, n, k, a, lda, b, bias, c, ldc);
}

void gemm_nt(int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
             const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (g_reference.load(std::memory_order_relaxed) || k == 0)
    return ref_gemm_nt(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  scipy_cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m),
                    static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
                    static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                    static_cast<blasint>(ldc));
}
void gemm_nt(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (g_reference.load(std::memory_order_relaxed) || k == 0)
    return ref_gemm_nt(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  scipy_cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m),
                    static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
                    static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                    static_cast<blasint>(ldc));
}

namespace {
template <class T>
void check_one(std::mt19937_64& rng, int64_t m, int64_t n, int64_t k, double* own_diff,
               double* blas_rel) {
  std::normal_distribution<double> nd;
  std::vector<T> a(m * (k + 3)), b(k * n), bias(n), c1(m * n), c2(m * n), c3(m * n);
  for (auto& v : a) v = static_cast<T>(nd(rng));
  for (auto& v : b) v = static_cast<T>(nd(rng));
  for (auto& v : bias) v = static_cast<T>(nd(rng));
  const int64_t lda = k + 3;  // a strided view
  ref_rows(m, n, k, a.data(), lda, b.data(), bias.data(), c1.data(), n);
  blas_rows(m, n, k, a.data(), lda, b.data(), bias.data(), c3.data(), n);
  for (int64_t i = 0; i < m * n; ++i) {
    const double scale = std::sqrt(static_cast<double>(k)) + 1.0;
    *blas_rel = std::max(*blas_rel, std::fabs(static_cast<double>(c1[i]) - c3[i]) / scale);
  }
  // Every vectorised variant this CPU can run, not only the one dispatch chooses.
  for (int v = 0; v < 2; ++v) {
#if defined(__x86_64__)
    if (v == 0 && kIsa == Isa::kAvx512)
      own_rows_avx512(m, n, k, a.data(), lda, b.data(), bias.data(), c2.data(), n);
    else if (v == 1 && kIsa != Isa::kScalar)
      own_rows_avx2(m, n, k, a.data(), lda, b.data(), bias.data(), c2.data(), n);
    else
      continue;
#else
    continue;
#endif
    for (int64_t i = 0; i < m * n; ++i)
      *own_diff = std::max(*own_diff, std::fabs(static_cast<double>(c1[i]) - c2[i]));
  }
}
}  // namespace

void self_check(double* own_diff, double* blas_rel) {
  std::mt19937_64 rng(12345);
  *own_diff = 0;
  *blas_rel = 0;
  const int64_t shapes[][3] = {{1, 1, 1},  {1, 7, 5},   {1, 100, 64}, {2, 33, 17},
                               {3, 64, 30}, {1, 3, 0},  {5, 129, 9},  {128, 40, 64},
                               {77, 10, 300}, {1, 1000, 3}};
  for (const auto& s : shapes) {
    check_one<double>(rng, s[0], s[1], s[2], own_diff, blas_rel);
    check_one<float>(rng, s[0], s[1], s[2], own_diff, blas_rel);
  }
}

}  // namespace dense
}  // namespace mle
