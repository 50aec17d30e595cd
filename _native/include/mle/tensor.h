// Element types and the strided 2-D views that kernels read and write.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mle {

// Codes are persisted (graph JSON names them; see layout.h) — never renumber.
enum class DType : uint8_t { kF32 = 1, kF64 = 2, kI32 = 3, kI64 = 4, kU8 = 5, kU32 = 6 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF64: return 8;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
    case DType::kU32: return 4;
  }
  return 0;
}

// A constant tensor: points into the mapped file, already validated (alignment, size, dtype).
struct TensorRef {
  DType dtype = DType::kF64;
  int ndim = 0;
  int64_t shape[4] = {0, 0, 0, 0};
  int64_t numel = 0;
  const void* data = nullptr;

  template <class T>
  const T* as() const { return static_cast<const T*>(data); }
};

// A block of rows of one runtime value: element (r, c) is at data + r*ld + c.
struct View {
  void* data = nullptr;
  int64_t ld = 0;
  DType dtype = DType::kF64;

  template <class T>
  T* row(int64_t r) const { return static_cast<T*>(data) + r * ld; }
};

}  // namespace mle
