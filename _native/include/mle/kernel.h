// The kernel interface and the per-node build context every kernel family uses.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
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
  // Ops whose framework raises on some input values (CategoricalNB on a category it never
  // saw, IsotonicRegression(out_of_bounds="raise") outside its range) return true here; the
  // executor then calls refusal() on each block before run() and reports a non-empty result
  // as an input error (docs/FORMAT.md, section 9.5).
  virtual bool checks_input() const { return false; }
  virtual std::string refusal(int64_t rows, const View* in) const { return {}; }
  // A view (neural networks' reshape/flatten): the output is input 0's values, same columns,
  // same order. The plan gives it input 0's buffer instead of running it, except when it is
  // the graph output (then run() copies).
  virtual bool is_view() const { return false; }
  // The kernel reads and writes float32 only (neural networks): the model refuses float64 X.
  virtual bool float32_only() const { return false; }
  // The kernel's result for a row depends on the other rows of the call (NMF.transform: the
  // batch mean starts its iterations, the batch's summed violation stops them): an output that
  // runs it is computed as one block of all the call's rows, on one thread.
  virtual bool whole_batch() const { return false; }
};

// For the few kernels whose input values can be invalid in ways only visible at run time
// (an embedding's token id out of range): records `msg` (a string literal) for this thread;
// the plan stops the call and returns it as an input error. The kernel still fills its output
// (with anything) and must not read out of bounds.
void report_input_error(const char* msg);

// Shared helpers of the kernel families.
// The rows of a float view as float64: float64 views are used in place, float32 ones are
// widened (exactly) into per-thread memory, as numpy widens float32 X against float64
// parameters. *ld receives the row stride (kernels/dense/ops.cpp).
const double* rows_as_f64(const View& v, int64_t rows, int64_t cols, int64_t* ld);
// scikit-learn's / scipy's logsumexp of row r's first `cols` values: a = max (NaN wins),
// m = how many entries equal it, s = sum in column order of exp(x - a') over the others
// (a' = a when finite, else 0), s /= m unless 0; (log1p(s) + log(m)) + a (kernels/bayes.cpp).
double row_logsumexp(const View& v, int64_t r, int64_t cols);

// ---------------------------------------------------------------- op schemas

// The kind of an op attribute's JSON value: a tensor index (of one dtype), a boolean, a
// number or a string (from a fixed set of values, or any string when the set is empty).
enum class AttrKind : uint8_t { kTensor, kBool, kNumber, kString };
enum Presence : bool { kRequired = false, kOptional = true };

// One attribute of an op's schema (docs/FORMAT.md, section 11). "Optional" means the file may
// leave it out (or give null); a kernel may still require it together with another attribute
// (MulAdd's clip_min with clip), which its factory checks.
struct AttrSpec {
  const char* name;
  AttrKind kind;
  DType dtype;                      // kTensor: the dtype the tensor must have
  Presence presence;
  std::vector<std::string> values;  // kString: the values allowed (empty: any string)
  std::string_view key = {};        // `name`, measured once by OpRegistrar
};

namespace attr {
inline AttrSpec tensor(const char* name, DType dtype, Presence p = kRequired) {
  return AttrSpec{name, AttrKind::kTensor, dtype, p, {}};
}
inline AttrSpec boolean(const char* name, Presence p = kRequired) {
  return AttrSpec{name, AttrKind::kBool, DType::kF64, p, {}};
}
inline AttrSpec number(const char* name, Presence p = kRequired) {
  return AttrSpec{name, AttrKind::kNumber, DType::kF64, p, {}};
}
inline AttrSpec string(const char* name, std::vector<std::string> values,
                       Presence p = kRequired) {
  return AttrSpec{name, AttrKind::kString, DType::kF64, p, std::move(values)};
}
}  // namespace attr

// The kind as mle_runtime/ir/ops.py and the error messages name it: "tensor:float64",
// "bool", "number" or "string".
std::string describe_kind(const AttrSpec& a);

class NodeBuild;

// A kernel factory validates the node and creates its kernel and output description.
using KernelFactory = Status (*)(const NodeBuild&, std::unique_ptr<Kernel>*, ValueInfo*);

// One op: its name, factory, number of inputs and attribute schema. The plan builder checks
// every node against its op's schema before the factory runs (no undeclared attribute, each of
// its declared kind and allowed value, required ones present), and NodeBuild's accessors refuse
// to read an attribute the schema does not declare, so the schema is exactly what the kernels
// enforce. _native.ops() returns these tables; tests/ir/test_op_vocabulary.py checks
// mle_runtime/ir/ops.py and docs/FORMAT.md against them.
// `inputs` is the exact number of inputs, or kAnyInputs: one or more (Concat).
constexpr int kAnyInputs = -1;

struct OpEntry {
  const char* name;
  KernelFactory factory;
  int inputs;
  std::vector<AttrSpec> attrs;

  const AttrSpec* find(std::string_view key) const;
};

// Kernel families register their ops themselves, one registrar per translation unit, at
// static-initialisation time:
//
//   static const OpRegistrar kRegistered({{"Sigmoid", make_sigmoid, 1, {}}, ...});
//
// so adding a family edits no central list. (The families are object files of the extension
// module; a static library of the core would need --whole-archive to keep the registrars.)
class OpRegistrar {
 public:
  explicit OpRegistrar(std::vector<OpEntry> ops);
};

// The op registered under `name`; nullptr when unknown.
const OpEntry* find_op(std::string_view name);
// Every registered op, in registration order.
const std::vector<OpEntry>& registered_ops();

// ---------------------------------------------------------------- building a node

// What validating a graph may cost (docs/FORMAT.md, section 18). A factory may scan every
// tensor it is given, and several nodes may name the same tensor (each validates it again), so
// the bytes of the tensors the nodes name are counted once per naming and capped: validation
// work stays linear in the file's size however the tensors are shared.
struct BuildBudget {
  int64_t tensor_bytes = 0;        // named so far
  int64_t tensor_bytes_limit = 0;  // see Model::kScanFactor, Model::kScanConstant
};

// What a kernel factory sees while the plan is built. Every accessor validates against the
// untrusted graph and names the node in its error; reading an attribute that the op's schema
// does not declare (with that kind and dtype) is an internal error.
class NodeBuild {
 public:
  NodeBuild(const json::Value& attrs, const std::vector<TensorRef>& tensors,
            const std::vector<ValueInfo>& inputs, size_t index, const OpEntry& op,
            BuildBudget* budget)
      : attrs_(attrs), tensors_(tensors), inputs_(inputs), index_(index), op_(op),
        budget_(budget) {}

  const std::vector<ValueInfo>& inputs() const { return inputs_; }
  std::string where() const {
    return "graph node " + std::to_string(index_) + " (" + op_.name + ")";
  }
  Status error(const std::string& what) const { return Status::Format(where() + ": " + what); }
  // The node against its op's schema: the number of inputs, no attribute the schema does not
  // declare, each of its kind (tensor indices valid and of the declared dtype, strings among
  // the allowed values), every required attribute present. Runs before the factory.
  Status check_schema() const;
  Status expect_inputs(size_t n) const;
  // Checks for exactly one floating-point input (the common case) and returns its info.
  Status float_input(ValueInfo* in) const;

  // A tensor attribute: dtype must match; dims[i] >= 0 pins that dimension, -1 leaves it free.
  // With optional=true a missing or null attribute yields *out = nullptr. Its bytes are
  // charged to the build budget (the factory may scan them), and refused beyond it.
  Status tensor(const char* key, DType dtype, std::initializer_list<int64_t> dims,
                const TensorRef** out, bool optional = false) const;
  Status tensor(const char* key, DType dtype, const std::vector<int64_t>& dims,
                const TensorRef** out, bool optional = false) const {
    return tensor_dims(key, dtype, dims.data(), dims.size(), out, optional);
  }
  Status number(const char* key, double* out) const;
  Status boolean(const char* key, bool* out) const;
  Status boolean_or(const char* key, bool dflt, bool* out) const;
  Status string(const char* key, std::string* out) const;
  // A string attribute that may be absent (then *out = dflt).
  Status string_or(const char* key, const char* dflt, std::string* out) const;
  // Whether the attribute is present (and not null); `key` must be declared.
  bool has(const char* key) const;

 private:
  const json::Value* attr(std::string_view key) const;
  Status tensor_dims(const char* key, DType dtype, const int64_t* dims, size_t ndims,
                     const TensorRef** out, bool optional) const;
  // The schema's entry for `key` when it has that kind (and dtype, for tensors), else an
  // internal error in *st.
  const AttrSpec* declared(const char* key, AttrKind kind, DType dtype, Status* st) const;
  const json::Value& attrs_;
  const std::vector<TensorRef>& tensors_;
  const std::vector<ValueInfo>& inputs_;
  size_t index_;
  const OpEntry& op_;
  BuildBudget* budget_;
};

// Calls f.template operator()<T>() with T = float or double according to dt.
template <class F>
inline void dispatch_float(DType dt, F&& f) {
  if (dt == DType::kF32)
    f(float{});
  else
    f(double{});
}

}  // namespace mle
