// The kernel interface and the per-node build context every kernel family uses.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mle/json.h"
#include "mle/status.h"
#include "mle/tensor.h"

namespace mle {

// The element type of a runtime value. kInput means "the float type of the caller's X"
// (float32 or float64), so transformers keep float32 data in float32 as scikit-learn does.
enum class ValueKind : uint8_t { kInput, kF64, kI64 };

struct ValueInfo {
  int64_t cols = 0;
  ValueKind kind = ValueKind::kF64;
  // Class-index values (what a classifier's predict maps through its labels): every entry of
  // column c lies in [0, bound(c)), bound(c) = index_bounds[c] when index_bounds is set (it
  // points at `cols` entries that live as long as the model), else index_bound. 0 and null:
  // not class indices. Plan building requires a label set of at least bound(c) labels.
  int64_t index_bound = 0;
  const int64_t* index_bounds = nullptr;
};

// One node's computation over a block of rows. `in` has one view per node input; views of
// kInput values carry the caller's dtype. Implementations never fail: everything that could
// fail was validated when the plan was built.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void run(int64_t rows, const View* in, const View& out) const = 0;
  // Rough work per row, in units of a multiply-add; decides whether a batch is worth threads.
  virtual double cost_per_row() const { return 8.0; }
};

// What validating a graph may cost (docs/FORMAT.md, section 18). A factory may scan every
// tensor it is given, and several nodes may name the same tensor (each validates it again), so
// the bytes of the tensors the nodes name are counted once per naming and capped: validation
// work stays linear in the file's size however the tensors are shared.
struct BuildBudget {
  int64_t tensor_bytes = 0;        // named so far
  int64_t tensor_bytes_limit = 0;  // see Model::kScanFactor, Model::kScanConstant
};

// What a kernel factory sees while the plan is built. Every accessor validates against the
// untrusted graph and names the node in its error.
class NodeBuild {
 public:
  NodeBuild(const json::Value& attrs, const std::vector<TensorRef>& tensors,
            const std::vector<ValueInfo>& inputs, size_t index, const std::string& op,
            BuildBudget* budget)
      : attrs_(attrs), tensors_(tensors), inputs_(inputs), index_(index), op_(op),
        budget_(budget) {}

  const std::vector<ValueInfo>& inputs() const { return inputs_; }
  std::string where() const {
    return "graph node " + std::to_string(index_) + " (" + op_ + ")";
  }
  Status error(const std::string& what) const { return Status::Format(where() + ": " + what); }
  Status expect_inputs(size_t n) const;
  // Checks for exactly one floating-point input (the common case) and returns its info.
  Status float_input(ValueInfo* in) const;

  // A tensor attribute: dtype must match; dims[i] >= 0 pins that dimension, -1 leaves it free.
  // With optional=true a missing or null attribute yields *out = nullptr. Its bytes are
  // charged to the build budget (the factory may scan them), and refused beyond it.
  Status tensor(const char* key, DType dtype, std::vector<int64_t> dims, const TensorRef** out,
                bool optional = false) const;
  Status number(const char* key, double* out) const;
  Status boolean(const char* key, bool* out) const;
  Status boolean_or(const char* key, bool dflt, bool* out) const;
  Status string(const char* key, std::string* out) const;
  // A string attribute that may be absent (then *out = dflt).
  Status string_or(const char* key, const char* dflt, std::string* out) const;

 private:
  const json::Value* attr(const char* key) const;
  const json::Value& attrs_;
  const std::vector<TensorRef>& tensors_;
  const std::vector<ValueInfo>& inputs_;
  size_t index_;
  const std::string& op_;
  BuildBudget* budget_;
};

// A kernel factory validates the node and creates its kernel and output description.
using KernelFactory = Status (*)(const NodeBuild&, std::unique_ptr<Kernel>*, ValueInfo*);

// Looks an op name up among all kernel families; nullptr when unknown.
KernelFactory find_kernel(std::string_view op);

// Kernel families (one translation unit each) list their ops here.
struct OpEntry {
  const char* name;
  KernelFactory factory;
};
extern const OpEntry kPreprocessOps[];
extern const OpEntry kLinearOps[];
extern const OpEntry kActivationOps[];
extern const OpEntry kTreeOps[];
extern const OpEntry kObliviousOps[];
extern const OpEntry kFloat32LinkOps[];

// Calls f.template operator()<T>() with T = float or double according to dt.
template <class F>
inline void dispatch_float(DType dt, F&& f) {
  if (dt == DType::kF32)
    f(float{});
  else
    f(double{});
}

}  // namespace mle
