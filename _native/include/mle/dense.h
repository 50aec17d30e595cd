// Dense linear algebra shared by every family that multiplies matrices: scikit-learn's
// neural networks, decompositions, clustering and kernel methods, and neural executors.
//
// All matrices are row-major. Two implementations stand behind each product:
// - our own kernels for one row and for small products (GEMV-shaped work), vectorised with the
//   best instruction set of the CPU chosen once at run time (AVX-512F, AVX2, or scalar; never
//   -march=native). They perform exactly the additions of the scalar reference, in the same
//   order and without fused multiply-adds, so a fast path and the reference give identical
//   bits (tests/native/test_dense.py checks this);
// - OpenBLAS (the scipy-openblas32 build, linked at build time, kept single-threaded: our own
//   pool parallelises over row blocks) for batches, where it is several times faster.
// `set_reference(true)` routes every product through the scalar reference (tests only).
#pragma once
#include <cstdint>
#include <string>

namespace mle {
namespace dense {

// The vector instruction set of our own kernels on this CPU: "avx512f", "avx2" or "scalar".
const char* isa();
// What the batch path is: "OpenBLAS <version> (<core>)".
std::string blas_info();

// Tests: route every product through the scalar reference (false: the fast paths).
void set_reference(bool on);
bool reference();

// C = A . B (+ bias broadcast over rows when bias != nullptr), A m x k (row stride lda),
// B k x n (row stride n, contiguous), C m x n (row stride ldc). Row r of C depends only on row
// r of A, in every path.
void matmul(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
            const double* bias, double* c, int64_t ldc);
void matmul(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
            const float* bias, float* c, int64_t ldc);

// The BLAS product C = alpha * A . B^T + beta * C (A m x k, B n x k, both row-major), always
// through OpenBLAS (or the reference when set_reference is on). Some scikit-learn estimators
// call exactly this product (KMeans' assignment step); calling the same product of the same
// library reproduces their arithmetic.
void gemm_nt(int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
             const double* b, int64_t ldb, double beta, double* c, int64_t ldc);
void gemm_nt(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
             const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// numpy's sum of n contiguous doubles (pairwise summation: eight running sums per block of up
// to 128, halves above that), so that row sums match np.sum(..., axis=1) bit for bit.
double pairwise_sum(const double* a, int64_t n);

// Squared norm of each row as numpy's einsum("ij,ij->i") sums it would not promise; here:
// sequential sum of x*x over the row.
void row_sq_norms(int64_t m, int64_t k, const double* a, int64_t lda, double* out);

// Squared euclidean distances of the rows of X (m x k) to the stored rows Y (n x k) by
// scikit-learn's formula: d = -2 X.Y^T + ||x||^2 + ||y||^2, clipped at 0 (y_sq: the stored
// rows' squared norms, computed at dump time). `out` is m x n (row stride ldo).
void sq_euclidean(int64_t m, int64_t n, int64_t k, const double* x, int64_t ldx,
                  const double* y, const double* y_sq, double* out, int64_t ldo);

// Kernel matrices K(X, Y) of the rows of X against stored rows Y (scikit-learn's pairwise
// kernels): linear x.y, poly (gamma x.y + coef0)^degree, rbf exp(-gamma ||x-y||^2),
// sigmoid tanh(gamma x.y + coef0), cosine x.y / (||x|| ||y||). y_aux: rbf: the squared norms
// of Y; cosine: Y's rows already normalised (then y is that normalised copy); else unused.
enum class KernelKind : int { kLinear, kPoly, kRbf, kSigmoid, kCosine };
struct KernelParams {
  KernelKind kind = KernelKind::kLinear;
  double gamma = 1.0, coef0 = 0.0, degree = 3.0;
};
void kernel_matrix(const KernelParams& p, int64_t m, int64_t n, int64_t k, const double* x,
                   int64_t ldx, const double* y, const double* y_aux, double* out, int64_t ldo);

// A self-check for tests: random products of every shape class (one row, small, batches) in
// both dtypes, each fast path against the reference. Returns the largest absolute difference
// between our own kernels and the reference (must be 0) in *own_diff and between OpenBLAS and
// the reference (relative to the magnitude) in *blas_rel.
void self_check(double* own_diff, double* blas_rel);

}  // namespace dense
}  // namespace mle
