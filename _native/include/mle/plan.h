// The executable plan: built once from the graph section at load, immutable afterwards, and
// safe to run from several threads at once (each run uses its own scratch memory).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mle/container.h"
#include "mle/json.h"
#include "mle/kernel.h"
#include "mle/status.h"
#include "mle/tensor.h"

namespace mle {

struct PlanNode {
  std::string op;
  std::unique_ptr<Kernel> kernel;
  std::vector<int> inputs;  // value ids
  int output = -1;          // value id
};

struct PlanOutput {
  std::string name;        // "predict", "predict_proba", "transform", ...
  int value = -1;          // value id
  int root = 0;            // the input it reads: value 0 (X) or 1 (Y, the inverse's input)
  bool ravel = false;      // the proxy returns shape (n,) instead of (n, 1)
  std::vector<int> nodes;  // node ids to run, in order
  std::vector<int64_t> scratch_offset;  // per value id: byte offset per row-block, -1 if none
  int64_t scratch_per_row = 0;          // bytes of scratch per row of a block
  bool planned = false;                 // offsets from the graph's memory plan (FORMAT.md 11.4)
  double cost_per_row = 0;              // summed kernel costs (see Kernel::cost_per_row)
};

class Model {
 public:
  Status load_file(const char* path);
  Status load_bytes(const void* data, size_t size);
  // Like load_bytes without the copy: `data` must stay alive and unchanged while the model
  // lives, and be 64-byte aligned (tensors are aligned relative to the file start).
  Status load_view(const void* data, size_t size);
  const uint8_t* file_data() const { return buffer_.data(); }

  // Runs output `out_idx` on n rows of X (C-contiguous, n_features columns) into `out`
  // (C-contiguous n x output_cols, dtype output_dtype). Releases nothing; the caller
  // drops the GIL around it.
  Status run(int out_idx, const void* X, DType x_dtype, int64_t n, int64_t x_cols, void* out,
             int n_threads) const;

  int num_outputs() const { return static_cast<int>(outputs_.size()); }
  const PlanOutput& output(int i) const { return outputs_[i]; }
  int64_t output_cols(int i) const { return values_[outputs_[i].value].cols; }
  DType output_dtype(int i, DType x_dtype) const {
    return resolve(values_[outputs_[i].value].kind, x_dtype);
  }
  int64_t n_features() const { return n_features_; }
  // The columns output i takes: n_features, or the inverse input's width (FORMAT.md 9.8).
  int64_t input_cols(int i) const { return values_[outputs_[i].root].cols; }
  const std::string& name() const { return name_; }
  const Section& meta() const { return container_.sections[container_.meta_index]; }
  // The parsed container (after a failed load, `parsed` and `kind` say whether the file was
  // an envelope or a value file rather than a damaged one).
  const Container& container() const { return container_; }
  bool mapped() const { return buffer_.mapped(); }
  size_t file_size() const { return buffer_.size(); }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  // The validated prediction rules as canonical JSON (docs/FORMAT.md, section 9.4).
  const std::string& rules() const { return rules_; }
  static constexpr int64_t kBlockRows = 128;
  static constexpr uint32_t kMaxOutputs = 64;  // proxies expose a handful of methods
  // Load-time caps derived from the file (docs/FORMAT.md, section 18). Validation: the nodes
  // may name at most kScanFactor x the tensor data section + kScanConstant bytes of tensors
  // (counted once per naming node). Prediction: one row of an output (its output row and one
  // block of scratch) may need at most kRowFactor x the file size + kRowConstant bytes, the
  // load budget's own formula (mle_runtime/format/budget.py).
  static constexpr int64_t kScanFactor = 4;
  static constexpr int64_t kScanConstant = int64_t(16) << 20;
  static constexpr int64_t kRowFactor = 32;
  static constexpr int64_t kRowConstant = int64_t(64) << 20;
  // A thread is worth starting for about this much work (multiply-adds): below it, waking a
  // team costs more than it saves, and on a busy machine it can stall for a scheduler tick.
  static constexpr double kWorkPerThread = 1.0e6;

 private:
  Status build();
  Status build_tensors(const json::Value& g);
  Status build_nodes(const json::Value& g);
  Status build_outputs(const json::Value& g);
  static DType resolve(ValueKind k, DType x) {
    return k == ValueKind::kInput ? x : (k == ValueKind::kF64 ? DType::kF64 : DType::kI64);
  }
  Status run_unguarded(int out_idx, const void* X, DType x_dtype, int64_t n, int64_t x_cols,
                       void* out, int n_threads) const;

  Buffer buffer_;
  Container container_;
  std::vector<TensorRef> tensors_;
  std::vector<ValueInfo> values_;  // value 0 is the input X; value 1 Y with an inverse
  std::vector<PlanNode> nodes_;
  std::vector<PlanOutput> outputs_;
  int64_t n_features_ = 0;
  bool allow_nan_ = false;
  bool allow_inf_ = false;
  bool cast_f32_ = false;  // the model casts X to float32: float64 values must fit
  bool has_inverse_ = false;  // the graph's "inverse" record: value 1 is Y (FORMAT.md 9.8)
  bool inv_allow_nan_ = false;
  bool inv_allow_inf_ = false;
  bool f32_only_ = false;  // a memory plan or a float32-only kernel: X must be float32
  // The input rule "text" (FORMAT.md 9.9): X holds token ids, one row per document padded
  // with -1, of any width >= 1; only TextCounts/TextLinear nodes read it.
  bool text_input_ = false;
  Status apply_memory_plan(const json::Value& mp, PlanOutput* po);
  std::vector<int64_t> finite_columns_;  // columns refusing infinity when allow_inf_
  std::string name_;
  std::string nan_owner_;
  std::string rules_;
};

}  // namespace mle
