#include "mle/plan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>
#include <atomic>

#include "call_rows.h"
#include "mle/rules.h"
#include "mle/threads.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mle {

// Format 1.7: the graph's "inverse" record (a second input Y, read by inverse_transform).
constexpr uint16_t kMinorInverse = 7;

// ---------------------------------------------------------------- NodeBuild accessors

const json::Value* NodeBuild::attr(std::string_view key) const {
  const json::Value* v = attrs_.get(key);
  return (v && !v->is_null()) ? v : nullptr;
}

Status NodeBuild::expect_inputs(size_t n) const {
  if (inputs_.size() != n)
    return error("expects " + std::to_string(n) + " input(s), got " +
                 std::to_string(inputs_.size()));
  return Status::OK();
}

Status NodeBuild::float_input(ValueInfo* in) const {
  MLE_RETURN_IF_ERROR(expect_inputs(1));
  if (inputs_[0].kind == ValueKind::kI64) return error("input must be floating point");
  *in = inputs_[0];
  return Status::OK();
}

static const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "float32";
    case DType::kF64: return "float64";
    case DType::kI32: return "int32";
    case DType::kI64: return "int64";
    case DType::kU8: return "uint8";
    case DType::kU32: return "uint32";
  }
  return "?";
}

static std::string quoted_list(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i)
    out += (i ? (i + 1 == values.size() ? " or '" : ", '") : "'") + values[i] + "'";
  return out;
}

const AttrSpec* NodeBuild::declared(const char* key, AttrKind kind, DType dtype,
                                    Status* st) const {
  const AttrSpec* a = op_.find(key);
  if (a && a->kind == kind && (kind != AttrKind::kTensor || a->dtype == dtype)) return a;
  *st = Status::Internal(where() + ": the kernel reads attribute '" + key +
                         "', which the op's schema does not declare with that kind");
  return nullptr;
}

bool NodeBuild::has(const char* key) const { return op_.find(key) && attr(key); }

// The error for a required attribute the node lacks; the same words as the accessors'.
static std::string missing_message(const AttrSpec& a) {
  const std::string key = std::string("'") + a.name + "'";
  switch (a.kind) {
    case AttrKind::kTensor: return "missing tensor attribute " + key;
    case AttrKind::kBool: return "attribute " + key + " must be a boolean";
    case AttrKind::kNumber: return "attribute " + key + " must be a number";
    case AttrKind::kString: break;
  }
  if (a.values.empty()) return "attribute " + key + " must be a string";
  return "attribute " + key + " must be one of " + quoted_list(a.values);
}

Status NodeBuild::check_schema() const {
  if (op_.inputs == kAnyInputs) {
    if (inputs_.empty()) return error("expects at least one input");
  } else {
    MLE_RETURN_IF_ERROR(expect_inputs(static_cast<size_t>(op_.inputs)));
  }
  for (const json::Value* v = attrs_.first(); v; v = v->next_sibling()) {
    const AttrSpec* a = op_.find(v->key);
    if (!a) {
      std::string names;
      for (const AttrSpec& d : op_.attrs) names += (names.empty() ? "" : ", ") + std::string(d.name);
      const std::string shown = v->key.size() > 64 ? std::string(v->key.substr(0, 64)) + "..."
                                                    : std::string(v->key);
      return error("unknown attribute '" + shown + "' (" + op_.name + " takes " +
                   (names.empty() ? std::string("none") : names) +
                   "); the file is damaged or was written for another version");
    }
    if (v->is_null()) continue;  // null is the same as absent
    // the attribute's quoted name, built only for an error message
    auto key = [a] { return std::string("'") + a->name + "'"; };
    switch (a->kind) {
      case AttrKind::kTensor: {
        if (!v->is_number() || !v->is_int || v->integer < 0 ||
            v->integer >= static_cast<int64_t>(tensors_.size()))
          return error("attribute " + key() + " is not a valid tensor index");
        const DType dt = tensors_[static_cast<size_t>(v->integer)].dtype;
        if (dt != a->dtype)
          return error("tensor " + key() + " must be " + dtype_name(a->dtype) + ", got " +
                       dtype_name(dt));
        break;
      }
      case AttrKind::kBool:
        if (!v->is_bool()) return error("attribute " + key() + " must be a boolean");
        break;
      case AttrKind::kNumber:
        if (!v->is_number()) return error("attribute " + key() + " must be a number");
        break;
      case AttrKind::kString: {
        if (!v->is_string()) return error("attribute " + key() + " must be a string");
        bool allowed = a->values.empty();
        for (const std::string& s : a->values) allowed = allowed || v->str == s;
        if (!allowed)
          return error("attribute " + key() + " must be " + quoted_list(a->values) + ", got '" +
                       (v->str.size() > 64 ? std::string(v->str.substr(0, 64)) + "..."
                                           : std::string(v->str)) + "'");
        break;
      }
    }
  }
  for (const AttrSpec& a : op_.attrs)
    if (a.presence == kRequired && !attr(a.key)) return error(missing_message(a));
  return Status::OK();
}

Status NodeBuild::tensor(const char* key, DType dtype, std::initializer_list<int64_t> dims,
                         const TensorRef** out, bool optional) const {
  return tensor_dims(key, dtype, dims.begin(), dims.size(), out, optional);
}

Status NodeBuild::tensor_dims(const char* key, DType dtype, const int64_t* dims, size_t ndims,
                              const TensorRef** out, bool optional) const {
  *out = nullptr;
  Status st;
  if (!declared(key, AttrKind::kTensor, dtype, &st)) return st;
  const json::Value* v = attr(key);
  if (!v) {
    if (optional) return Status::OK();
    return error(std::string("missing tensor attribute '") + key + "'");
  }
  if (!v->is_number() || !v->is_int || v->integer < 0 ||
      v->integer >= static_cast<int64_t>(tensors_.size()))
    return error(std::string("attribute '") + key + "' is not a valid tensor index");
  const TensorRef& t = tensors_[static_cast<size_t>(v->integer)];
  if (t.dtype != dtype)
    return error(std::string("tensor '") + key + "' must be " + dtype_name(dtype) + ", got " +
                 dtype_name(t.dtype));
  if (t.ndim != static_cast<int>(ndims))
    return error(std::string("tensor '") + key + "' must have " + std::to_string(ndims) +
                 " dimension(s), got " + std::to_string(t.ndim));
  for (size_t i = 0; i < ndims; ++i)
    if (dims[i] >= 0 && t.shape[i] != dims[i])
      return error(std::string("tensor '") + key + "' dimension " + std::to_string(i) +
                   " must be " + std::to_string(dims[i]) + ", got " + std::to_string(t.shape[i]));
  // numel * element size <= 2^53: tensors were checked against the data section
  budget_->tensor_bytes += t.numel * static_cast<int64_t>(dtype_size(t.dtype));
  if (budget_->tensor_bytes > budget_->tensor_bytes_limit)
    return error("the graph's nodes name " + std::to_string(budget_->tensor_bytes) +
                 " bytes of tensors so far (a tensor counts once per node that names it), "
                 "more than the " + std::to_string(budget_->tensor_bytes_limit) +
                 " bytes allowed (" + std::to_string(Model::kScanFactor) +
                 " x the tensor data section + " + std::to_string(Model::kScanConstant >> 20) +
                 " MiB): validating them would take time out of proportion to the file, "
                 "which is damaged or hostile");
  *out = &t;
  return Status::OK();
}

Status NodeBuild::number(const char* key, double* out) const {
  Status st;
  if (!declared(key, AttrKind::kNumber, DType::kF64, &st)) return st;
  const json::Value* v = attr(key);
  if (!v || !v->is_number()) return error(std::string("attribute '") + key + "' must be a number");
  *out = v->number;
  return Status::OK();
}

Status NodeBuild::boolean(const char* key, bool* out) const {
  Status st;
  if (!declared(key, AttrKind::kBool, DType::kF64, &st)) return st;
  const json::Value* v = attr(key);
  if (!v || !v->is_bool()) return error(std::string("attribute '") + key + "' must be a boolean");
  *out = v->boolean;
  return Status::OK();
}

Status NodeBuild::boolean_or(const char* key, bool dflt, bool* out) const {
  if (!attr(key)) {
    Status st;
    if (!declared(key, AttrKind::kBool, DType::kF64, &st)) return st;
    *out = dflt;
    return Status::OK();
  }
  return boolean(key, out);
}

Status NodeBuild::string(const char* key, std::string* out) const {
  Status st;
  if (!declared(key, AttrKind::kString, DType::kF64, &st)) return st;
  const json::Value* v = attr(key);
  if (!v || !v->is_string()) return error(std::string("attribute '") + key + "' must be a string");
  *out = std::string(v->str);
  return Status::OK();
}

Status NodeBuild::string_or(const char* key, const char* dflt, std::string* out) const {
  if (!attr(key)) {
    Status st;
    if (!declared(key, AttrKind::kString, DType::kF64, &st)) return st;
    *out = dflt;
    return Status::OK();
  }
  return string(key, out);
}

// ---------------------------------------------------------------- loading

// Nothing may throw across the Cython boundary: allocation failures (a hostile file can ask
// for absurd sizes) become a Status.
template <class F>
static Status guarded(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return Status::Memory("out of memory while loading or running the model");
  } catch (const std::exception& e) {
    return Status::Internal(e.what());
  }
}

Status Model::load_file(const char* path) {
  return guarded([&] {
    MLE_RETURN_IF_ERROR(buffer_.open_file(path));
    return build();
  });
}

Status Model::load_view(const void* data, size_t size) {
  return guarded([&] {
    MLE_RETURN_IF_ERROR(buffer_.borrow(data, size));
    return build();
  });
}

Status Model::load_bytes(const void* data, size_t size) {
  return guarded([&] {
    MLE_RETURN_IF_ERROR(buffer_.copy_from(data, size));
    return build();
  });
}

static bool parse_dtype(std::string_view s, DType* out) {
  // numpy's type codes; the byte order is always little-endian.
  static const std::pair<const char*, DType> names[] = {
      {"f4", DType::kF32}, {"f8", DType::kF64}, {"i4", DType::kI32},
      {"i8", DType::kI64}, {"u1", DType::kU8},  {"u4", DType::kU32}};
  for (const auto& n : names)
    if (s == n.first) { *out = n.second; return true; }
  return false;
}

namespace {

// The parsed metadata and graph of the load running on this thread. Reused from one load to
// the next, their node arrays keep their capacity, so loading small models allocates nothing
// for parsing after the first load; an array grown past kKeepNodes (a graph with large lists)
// is freed when its load ends.
struct LoadDocuments {
  static constexpr size_t kKeepNodes = 4096;  // 256 KiB of nodes
  json::Document meta, graph;
};

class BorrowedDocuments {
 public:
  BorrowedDocuments() : d_(documents()) {}
  ~BorrowedDocuments() {
    d_.meta.trim(LoadDocuments::kKeepNodes);
    d_.graph.trim(LoadDocuments::kKeepNodes);
  }
  json::Document& meta() { return d_.meta; }
  json::Document& graph() { return d_.graph; }

 private:
  static LoadDocuments& documents() {
    thread_local LoadDocuments d;
    return d;
  }
  LoadDocuments& d_;
};

}  // namespace

Status Model::build() {
  MLE_RETURN_IF_ERROR(parse_container(buffer_.data(), buffer_.size(), &container_));
  BorrowedDocuments docs;  // build() never runs twice at once on one thread
  // Metadata is read lazily by Python; validate it is a JSON object now so that a damaged
  // file fails at load, not at first use. Files before format 1.3 keep their prediction rules
  // in it (build_rules reads them).
  const Section& ms = container_.sections[container_.meta_index];
  json::Document& meta = docs.meta();
  Status mst = meta.parse(reinterpret_cast<const char*>(ms.data), ms.size);
  if (!mst.ok()) return Status::Format("metadata section: " + mst.message);
  if (!meta.root().is_object()) return Status::Format("metadata section: not a JSON object");
  const Section& gs = container_.sections[container_.graph_index];
  json::Document& doc = docs.graph();
  Status st = doc.parse(reinterpret_cast<const char*>(gs.data), gs.size);
  if (!st.ok()) return Status::Format("graph section: " + st.message);
  const json::Value& g = doc.root();
  if (!g.is_object()) return Status::Format("graph section: not a JSON object");
  const json::Value* name = g.get("name");
  if (!name || !name->is_string()) return Status::Format("graph section: missing 'name'");
  name_ = std::string(name->str);

  const json::Value* in = &g;
  const json::Value* nf = in->get("n_features");
  if (!nf || !nf->is_int || nf->integer < 0 || nf->integer > (int64_t(1) << 31))
    return Status::Format("graph section: 'n_features' must be an integer in [0, 2^31]");
  n_features_ = nf->integer;
  const json::Value* an = in->get("allow_nan");
  const json::Value* ai = in->get("allow_inf");
  if ((an && !an->is_bool()) || (ai && !ai->is_bool()))
    return Status::Format("graph section: 'allow_nan' and 'allow_inf' must be booleans");
  allow_nan_ = an && an->boolean;  // both default to false
  allow_inf_ = ai && ai->boolean;
  const json::Value* cf = in->get("cast_float32");
  if (cf && !cf->is_bool())
    return Status::Format("graph section: 'cast_float32' must be a boolean");
  cast_f32_ = cf && cf->boolean;
  // Columns where infinity is refused even though the model takes it elsewhere.
  finite_columns_.clear();
  if (const json::Value* fc = in->get("finite_columns")) {
    if (!fc->is_array()) return Status::Format("graph section: 'finite_columns' must be a list");
    for (const json::Value* c = fc->first(); c; c = c->next_sibling()) {
      if (!c->is_int || c->integer < 0 || c->integer >= n_features_)
        return Status::Format("graph section: 'finite_columns' entries must be column indices");
      finite_columns_.push_back(c->integer);
    }
  }
  const json::Value* owner = in->get("nan_owner");
  nan_owner_ = (owner && owner->is_string()) ? std::string(owner->str) : name_;

  values_.clear();
  values_.push_back(ValueInfo{n_features_, ValueKind::kInput});
  // Format 1.7: a second input, Y, which the inverse_transform output reads (FORMAT.md 9.8).
  has_inverse_ = inv_allow_nan_ = inv_allow_inf_ = false;
  if (const json::Value* inv = g.get("inverse")) {
    if (container_.minor < kMinorInverse)
      return Status::Format("graph section: 'inverse' needs format 1." +
                            std::to_string(kMinorInverse) + " or newer, but the file says 1." +
                            std::to_string(container_.minor));
    const json::Value* w = inv->is_object() ? inv->get("n_features") : nullptr;
    const json::Value* yn = inv->is_object() ? inv->get("allow_nan") : nullptr;
    const json::Value* yi = inv->is_object() ? inv->get("allow_inf") : nullptr;
    bool ok = w && w->is_int && w->integer >= 1 && w->integer <= (int64_t(1) << 31) &&
              (!yn || yn->is_bool()) && (!yi || yi->is_bool());
    for (const json::Value* m = ok ? inv->first() : nullptr; m && ok; m = m->next_sibling())
      ok = m->key == "n_features" || m->key == "allow_nan" || m->key == "allow_inf";
    if (!ok)
      return Status::Format("graph section: 'inverse' must be {\"n_features\": an integer in "
                            "[1, 2^31], \"allow_nan\"?: boolean, \"allow_inf\"?: boolean}");
    has_inverse_ = true;
    inv_allow_nan_ = yn && yn->boolean;
    inv_allow_inf_ = yi && yi->boolean;
    values_.push_back(ValueInfo{w->integer, ValueKind::kInput});
  }
  MLE_RETURN_IF_ERROR(build_tensors(g));
  MLE_RETURN_IF_ERROR(build_nodes(g));
  MLE_RETURN_IF_ERROR(build_outputs(g));
  // Text input (FORMAT.md 9.9): X is a matrix of token ids of any width, so it is one
  // declared column, read only by the text ops, and never an output itself.
  const json::Value* rin = g.get("inputs");
  text_input_ = rin && rin->is_object() && rin->get("text") != nullptr;
  for (const PlanNode& nd : nodes_) {
    const bool text_op = nd.op == "TextCounts" || nd.op == "TextLinear";
    for (int v : nd.inputs)
      if ((text_op && (v != 0 || !text_input_)) || (text_input_ && v == 0 && !text_op))
        return Status::Format("graph node " + nd.op + ": the text ops read X, and only X, of a "
                              "graph with the input rule 'text', and only they read its X");
  }
  if (text_input_) {
    if (n_features_ != 1 || has_inverse_)
      return Status::Format("graph section: a graph with the input rule 'text' must declare "
                            "n_features 1 (one document per row) and no inverse input");
    for (const PlanOutput& po : outputs_)
      if (po.value == 0)
        return Status::Format("graph output '" + po.name + "': the token ids of the input "
                              "rule 'text' cannot be an output");
  }
  return build_rules(g, meta.root(), container_.minor, outputs_, values_, n_features_, &rules_,
                     std::string_view(reinterpret_cast<const char*>(gs.data), gs.size));
}

Status Model::build_tensors(const json::Value& g) {
  const json::Value* ts = g.get("tensors");
  if (!ts || !ts->is_array()) return Status::Format("graph section: 'tensors' must be a list");
  tensors_.clear();
  tensors_.reserve(ts->size);
  size_t i = 0;
  for (const json::Value* tp = ts->first(); tp; tp = tp->next_sibling(), ++i) {
    // [offset, dtype, shape]
    auto where = [i] { return "tensor " + std::to_string(i); };
    if (!tp->is_array() || tp->size != 3)
      return Status::Format(where() + ": must be [offset, dtype, shape]");
    const json::Value* off = tp->at(0);
    const json::Value* dt = tp->at(1);
    const json::Value* shape = tp->at(2);
    if (container_.data_index < 0)
      return Status::Format(where() + ": the file has no tensor data section");
    const Section& s = container_.sections[container_.data_index];
    TensorRef r;
    if (!dt || !dt->is_string() || !parse_dtype(dt->str, &r.dtype))
      return Status::Format(where() + ": unknown dtype");
    if (!off || !off->is_int || off->integer < 0 ||
        static_cast<uint64_t>(off->integer) > s.size ||
        (s.offset + static_cast<uint64_t>(off->integer)) % dtype_size(r.dtype) != 0)
      return Status::Format(where() + ": 'offset' must lie inside the tensor data section and "
                            "put the tensor at a file offset that is a multiple of its element "
                            "size");
    if (!shape || !shape->is_array() || shape->size > 4)
      return Status::Format(where() + ": 'shape' must be a list of at most 4 dimensions");
    r.ndim = static_cast<int>(shape->size);
    uint64_t numel = 1;
    int d = 0;
    for (const json::Value* dim = shape->first(); dim; dim = dim->next_sibling(), ++d) {
      if (!dim->is_int || dim->integer < 0 || dim->integer > (int64_t(1) << 40))
        return Status::Format(where() + ": invalid dimension");
      r.shape[d] = dim->integer;
      if (dim->integer != 0 && numel > (uint64_t(1) << 50) / static_cast<uint64_t>(dim->integer))
        return Status::Format(where() + ": shape too large");
      numel *= static_cast<uint64_t>(dim->integer);
    }
    uint64_t nbytes = numel * dtype_size(r.dtype);
    if (nbytes > s.size - static_cast<uint64_t>(off->integer))
      return Status::Format(where() + ": bytes " + std::to_string(off->integer) + ".." +
                            std::to_string(off->integer + nbytes) +
                            " lie beyond the tensor data section (" + std::to_string(s.size) +
                            " bytes)");
    r.numel = static_cast<int64_t>(numel);
    r.data = s.data + off->integer;
    tensors_.push_back(r);
  }
  return Status::OK();
}

namespace {

// The value names of a graph, defined in order. Graphs of a few dozen values (nearly all)
// are searched linearly, which costs less than building any map; past kLinear names an
// ordered map takes over. The names come from the file: an ordered map costs O(log n)
// comparisons per lookup whatever they are, where a hash table would be quadratic for names
// crafted to collide.
class ValueNames {
 public:
  explicit ValueNames(size_t n) { list_.reserve(n < kLinear ? n : kLinear); }
  void add(std::string_view name, int id) {
    if (!map_.empty()) {
      map_.emplace(name, id);
    } else if (list_.size() < kLinear) {
      list_.emplace_back(name, id);
    } else {
      for (const auto& e : list_) map_.emplace(e.first, e.second);
      map_.emplace(name, id);
    }
  }
  // The id of `name`, or -1.
  int find(std::string_view name) const {
    if (!map_.empty()) {
      auto it = map_.find(name);
      return it == map_.end() ? -1 : it->second;
    }
    for (const auto& e : list_)
      if (e.first == name) return e.second;
    return -1;
  }

 private:
  static constexpr size_t kLinear = 32;
  std::vector<std::pair<std::string_view, int>> list_;
  std::map<std::string_view, int> map_;
};

}  // namespace

Status Model::build_nodes(const json::Value& g) {
  const json::Value* ns = g.get("nodes");
  if (!ns || !ns->is_array()) return Status::Format("graph section: 'nodes' must be a list");
  ValueNames ids(ns->size + 1);
  ids.add("X", 0);
  if (has_inverse_) ids.add("Y", 1);
  static const json::Value kEmpty = [] {
    json::Value v;
    v.type = json::Type::kObject;
    return v;
  }();
  nodes_.clear();
  nodes_.reserve(ns->size);
  values_.reserve(ns->size + 1);
  BuildBudget budget;
  {
    const int64_t data =
        container_.data_index < 0
            ? 0
            : static_cast<int64_t>(container_.sections[container_.data_index].size);
    budget.tensor_bytes_limit = kScanFactor * data + kScanConstant;
  }
  size_t i = 0;
  std::vector<ValueInfo> in_infos;
  for (const json::Value* np = ns->first(); np; np = np->next_sibling(), ++i) {
    // [op, [inputs...], output] or [op, [inputs...], output, {attrs}]
    const json::Value* op = np->is_array() ? np->at(0) : nullptr;
    auto where = [&] {
      return "graph node " + std::to_string(i) +
             (op && op->is_string() ? " (" + std::string(op->str) + ")" : std::string());
    };
    if (!np->is_array() || np->size < 3 || np->size > 4 || !op->is_string())
      return Status::Format(where() + ": must be [op, inputs, output, attrs?]");
    const OpEntry* entry = find_op(op->str);
    if (!entry)
      return Status::Unsupported(where() + ": unknown op '" + std::string(op->str) +
                                 "'; this file needs a newer mle_runtime");
    const json::Value* ins = np->at(1);
    const json::Value* outname = np->at(2);
    const json::Value* attrs = np->at(3);
    if (!ins || !ins->is_array() || ins->size == 0 || ins->size > 1024)
      return Status::Format(where() + ": 'inputs' must be a non-empty list");
    if (!outname || !outname->is_string())
      return Status::Format(where() + ": 'output' must be a string");
    if (attrs && !attrs->is_object())
      return Status::Format(where() + ": 'attrs' must be an object");
    PlanNode pn;
    pn.op = std::string(op->str);
    pn.inputs.reserve(ins->size);
    in_infos.clear();
    for (const json::Value* iv = ins->first(); iv; iv = iv->next_sibling()) {
      if (!iv->is_string()) return Status::Format(where() + ": input names must be strings");
      const int id = ids.find(iv->str);
      // Values must be defined before use: this makes every graph acyclic by construction.
      if (id < 0)
        return Status::Format(where() + ": input '" + std::string(iv->str) +
                              "' is not defined by an earlier node");
      pn.inputs.push_back(id);
      in_infos.push_back(values_[id]);
    }
    if (ids.find(outname->str) >= 0)
      return Status::Format(where() + ": value '" + std::string(outname->str) +
                            "' is assigned twice");
    NodeBuild nb(attrs ? *attrs : kEmpty, tensors_, in_infos, i, *entry, &budget);
    ValueInfo out;
    MLE_RETURN_IF_ERROR(nb.check_schema());
    MLE_RETURN_IF_ERROR(entry->factory(nb, &pn.kernel, &out));
    if (out.cols <= 0 || out.cols > (int64_t(1) << 31))
      return Status::Format(where() + ": output has an invalid number of columns");
    pn.output = static_cast<int>(values_.size());
    ids.add(outname->str, pn.output);
    values_.push_back(out);
    nodes_.push_back(std::move(pn));
  }
  // Resolve graph outputs by name.
  const json::Value* os = g.get("outputs");
  // Format 1.6: a model with no prediction methods (a fitted clustering or embedding whose
  // results are its estimator record) has no outputs; earlier files need at least one.
  const size_t min_outputs = container_.minor >= 6 ? 0 : 1;
  if (!os || !os->is_array() || os->size < min_outputs || os->size > kMaxOutputs)
    return Status::Format("graph section: 'outputs' must be a list of " +
                          std::to_string(min_outputs) + " to " + std::to_string(kMaxOutputs) +
                          " outputs" + (min_outputs ? " (files before format 1.6)" : ""));
  outputs_.clear();
  outputs_.reserve(os->size);
  i = 0;
  for (const json::Value* o = os->first(); o; o = o->next_sibling(), ++i) {
    // [name, value], [name, value, ravel] or [name, value, {options}] (the options are
    // prediction rules, validated by build_rules; "ravel" is one of them)
    auto where = [i] { return "graph output " + std::to_string(i); };
    if (!o->is_array() || o->size < 2 || o->size > 3)
      return Status::Format(where() + ": must be [name, value, ravel or options?]");
    const json::Value* nm = o->at(0);
    const json::Value* val = o->at(1);
    const json::Value* rv = o->at(2);
    if (rv && rv->is_object()) rv = rv->get("ravel");
    if (!nm->is_string() || !val->is_string() || (rv && !rv->is_bool()))
      return Status::Format(where() + ": name and value must be strings, ravel a boolean");
    const int id = ids.find(val->str);
    if (id < 0)
      return Status::Format(where() + ": value '" + std::string(val->str) + "' is not defined");
    for (const auto& prev : outputs_)
      if (prev.name == nm->str) return Status::Format(where() + ": duplicate output name");
    PlanOutput po;
    po.name = std::string(nm->str);
    po.value = id;
    po.ravel = rv && rv->is_bool() && rv->boolean;
    if (po.ravel && values_[po.value].cols != 1)
      return Status::Format(where() + ": 'ravel' needs a one-column value");
    outputs_.push_back(std::move(po));
  }
  return Status::OK();
}

Status Model::build_outputs(const json::Value& g) {
  const json::Value* mp = g.get("memory_plan");
  f32_only_ = mp != nullptr;
  for (const PlanNode& nd : nodes_) f32_only_ = f32_only_ || nd.kernel->float32_only();
  std::vector<char> need;
  for (PlanOutput& po : outputs_) {
    // Mark the values this output depends on, walking nodes backwards (node k defines value k+1).
    need.assign(values_.size(), 0);
    need[po.value] = 1;
    for (int k = static_cast<int>(nodes_.size()) - 1; k >= 0; --k) {
      if (!need[nodes_[k].output]) continue;
      for (int v : nodes_[k].inputs) need[v] = 1;
    }
    if (has_inverse_) {
      if (need[0] && need[1])
        return Status::Format("graph output '" + po.name + "' reads both inputs X and Y; an "
                              "output reads one of them");
      po.root = need[1] ? 1 : 0;
    }
    po.scratch_offset.assign(values_.size(), -1);
    po.nodes.reserve(nodes_.size());
    int64_t off = 0;
    for (int k = 0; k < static_cast<int>(nodes_.size()); ++k) {
      int v = nodes_[k].output;
      if (!need[v]) continue;
      po.nodes.push_back(k);
      po.cost_per_row += nodes_[k].kernel->cost_per_row();
      if (v != po.value) {
        po.scratch_offset[v] = off;
        off += values_[v].cols * 8;  // 8 bytes covers every value kind
      }
    }
    po.scratch_per_row = off;
    if (mp) MLE_RETURN_IF_ERROR(apply_memory_plan(*mp, &po));
    off = po.scratch_per_row;
    // Scratch is per row block and per thread; refuse graphs whose intermediates alone would
    // need more than 1 GiB for one block.
    if (off > (int64_t(1) << 30) / kBlockRows)
      return Status::Format("graph output '" + po.name + "' needs " + std::to_string(off) +
                            " bytes of intermediates per row; the limit is " +
                            std::to_string((int64_t(1) << 30) / kBlockRows));
    // What predicting one row allocates: its output row and one block of scratch. Like
    // loading, it may not cost more than kRowFactor x the file + kRowConstant (FORMAT.md 18).
    // cols <= 2^31 and off <= 2^23 here, so nothing overflows.
    const int64_t one_row = values_[po.value].cols * 8 + off * kBlockRows;
    const int64_t cap = kRowFactor * static_cast<int64_t>(buffer_.size()) + kRowConstant;
    if (one_row > cap)
      return Status::Format(
          "graph output '" + po.name + "' needs " + std::to_string(one_row) +
          " bytes to predict one row (" + std::to_string(values_[po.value].cols) +
          " output columns, " + std::to_string(off) + " bytes of intermediates per row in " +
          "blocks of " + std::to_string(kBlockRows) + " rows), more than the " +
          std::to_string(cap) + " bytes allowed for this " + std::to_string(buffer_.size()) +
          "-byte file (" + std::to_string(kRowFactor) + " x its size + " +
          std::to_string(kRowConstant >> 20) + " MiB); the file is damaged or hostile");
  }
  return Status::OK();
}

// The graph's memory plan (docs/FORMAT.md, 11.4): {"arena": bytes per row, "offsets": one
// entry per node, the byte offset per row of the value it defines in the arena, or null for
// a view or a value that is only an output}. Every offset and size is checked against the
// arena, and values alive at the same time (closed intervals over the output's node order,
// a view keeping its input alive) must not share bytes: a wrong plan is refused, not run.
Status Model::apply_memory_plan(const json::Value& mp, PlanOutput* po) {
  const int64_t cap = (int64_t(1) << 30) / kBlockRows;
  const json::Value* ar = mp.is_object() ? mp.get("arena") : nullptr;
  const json::Value* offs = mp.is_object() ? mp.get("offsets") : nullptr;
  if (!ar || !ar->is_int || ar->integer < 0 || ar->integer > cap || !offs || !offs->is_array() ||
      offs->size != nodes_.size())
    return Status::Format("graph section: 'memory_plan' must be {\"arena\": bytes per row "
                          "(0 to " + std::to_string(cap) + "), \"offsets\": one entry per node}");
  const int64_t arena = ar->integer;
  std::vector<int64_t> off(values_.size(), -1);
  size_t k = 0;
  for (const json::Value* o = offs->first(); o; o = o->next_sibling(), ++k) {
    if (o->is_null()) continue;
    if (!o->is_int || o->integer < 0 || o->integer % 8 != 0 || o->integer > arena)
      return Status::Format("graph section: memory plan offset of node " + std::to_string(k) +
                            " must be null or a multiple of 8 in [0, " + std::to_string(arena) +
                            "]");
    off[nodes_[k].output] = o->integer;
  }
  const size_t nv = values_.size();
  std::vector<int> root(nv, 0);
  std::vector<int64_t> start(nv, -1), end(nv, -1);
  for (size_t i = 0; i < nv; ++i) root[i] = static_cast<int>(i);
  for (size_t pos = 0; pos < po->nodes.size(); ++pos) {
    const PlanNode& nd = nodes_[po->nodes[pos]];
    for (int in : nd.inputs) end[root[in]] = std::max<int64_t>(end[root[in]], pos);
    const int v = nd.output;
    if (nd.kernel->is_view() && v != po->value) root[v] = root[nd.inputs[0]];
    start[v] = static_cast<int64_t>(pos);
    end[root[v]] = std::max<int64_t>(end[root[v]], pos);
  }
  struct Item { int64_t start, end, off, size; };
  std::vector<Item> items;
  for (int k2 : po->nodes) {
    const int v = nodes_[k2].output;
    if (v == po->value || root[v] != v) continue;
    const int64_t size = values_[v].cols * static_cast<int64_t>(
        dtype_size(resolve(values_[v].kind, DType::kF32)));
    if (off[v] < 0)
      return Status::Format("graph section: memory plan gives node " + std::to_string(k2) +
                            "'s value no offset; it is an intermediate of output '" + po->name +
                            "'");
    if (off[v] + size > arena)
      return Status::Format("graph section: memory plan places node " + std::to_string(k2) +
                            "'s value (" + std::to_string(size) + " bytes per row) at offset " +
                            std::to_string(off[v]) + ", past the arena of " +
                            std::to_string(arena) + " bytes per row");
    po->scratch_offset[v] = off[v];
    items.push_back(Item{start[v], end[v], off[v], size});
  }
  // items are in definition order (= start order); a sweep keeps the buffers alive so far,
  // by offset, and checks each new one against its neighbours.
  std::map<int64_t, int64_t> active;  // offset -> end offset
  std::vector<std::pair<int64_t, int64_t>> ends;  // (end time, offset), a min-heap
  auto later = [](const std::pair<int64_t, int64_t>& a, const std::pair<int64_t, int64_t>& b) {
    return a.first > b.first;
  };
  for (const Item& it : items) {
    while (!ends.empty() && ends.front().first < it.start) {
      active.erase(ends.front().second);
      std::pop_heap(ends.begin(), ends.end(), later);
      ends.pop_back();
    }
    auto nx = active.lower_bound(it.off);
    bool clash = nx != active.end() && nx->first < it.off + it.size;
    if (!clash && nx != active.begin()) clash = std::prev(nx)->second > it.off;
    if (clash)
      return Status::Format("graph section: memory plan of output '" + po->name +
                            "' places two values alive at the same time on the same bytes "
                            "(offset " + std::to_string(it.off) + ")");
    active.emplace(it.off, it.off + it.size);
    ends.emplace_back(it.end, it.off);
    std::push_heap(ends.begin(), ends.end(), later);
  }
  po->scratch_per_row = arena;
  po->planned = true;
  return Status::OK();
}

// ---------------------------------------------------------------- running

namespace {
thread_local const char* t_input_error = nullptr;
thread_local BlockRows t_block_rows;
std::atomic<uint64_t> g_calls{0};
}  // namespace

BlockRows current_block_rows() { return t_block_rows; }

void report_input_error(const char* msg) {
  if (!t_input_error) t_input_error = msg;
}

// 0 when every value passes, 1 for a refused NaN, 2 for a refused infinity, 3 for a finite
// float64 value that overflows float32 when the model casts its input to float32.
// True when any value is NaN or +-inf, branch-free: x - x is +0.0 (all bits zero) for every
// finite x and NaN otherwise, so OR-ing the bits of x - x finds them. The exact classification
// runs only when this is true.
#if defined(__SSE2__)
static bool any_non_finite(const double* x, int64_t count) {
  __m128d acc = _mm_setzero_pd();
  int64_t i = 0;
  for (; i + 2 <= count; i += 2) {
    const __m128d v = _mm_loadu_pd(x + i);
    acc = _mm_or_pd(acc, _mm_sub_pd(v, v));
  }
  bool hit = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_castpd_si128(acc), _mm_setzero_si128())) !=
             0xFFFF;
  for (; i < count; ++i) hit |= !std::isfinite(x[i]);
  return hit;
}
static bool any_non_finite(const float* x, int64_t count) {
  __m128 acc = _mm_setzero_ps();
  int64_t i = 0;
  for (; i + 4 <= count; i += 4) {
    const __m128 v = _mm_loadu_ps(x + i);
    acc = _mm_or_ps(acc, _mm_sub_ps(v, v));
  }
  bool hit = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_castps_si128(acc), _mm_setzero_si128())) !=
             0xFFFF;
  for (; i < count; ++i) hit |= !std::isfinite(x[i]);
  return hit;
}
#else
template <class T>
static bool any_non_finite(const T* x, int64_t count) {
  bool hit = false;
  for (int64_t i = 0; i < count; ++i) hit |= !std::isfinite(x[i]);
  return hit;
}
#endif

template <class T>
static int first_bad(const T* x, int64_t count, bool allow_nan, bool allow_inf, bool cast_f32,
                     int64_t* where) {
  // Fast path: all finite and nothing overflowing float32 to look for.
  if (!(cast_f32 && !allow_inf) && !any_non_finite(x, count)) return 0;
  for (int64_t i = 0; i < count; ++i) {
    T v = x[i];
    if (std::isfinite(v)) {
      if (cast_f32 && !allow_inf && std::isinf(static_cast<float>(v))) {
        *where = i;
        return 3;
      }
      continue;
    }
    if (std::isnan(v)) {
      if (!allow_nan) { *where = i; return 1; }
    } else if (!allow_inf) {
      *where = i;
      return 2;
    }
  }
  return 0;
}

Status Model::run(int out_idx, const void* X, DType x_dtype, int64_t n, int64_t x_cols, void* out,
                  int n_threads) const {
  return guarded([&] { return run_unguarded(out_idx, X, x_dtype, n, x_cols, out, n_threads); });
}

Status Model::run_unguarded(int out_idx, const void* X, DType x_dtype, int64_t n, int64_t x_cols,
                            void* out, int n_threads) const {
  if (out_idx < 0 || out_idx >= num_outputs()) return Status::Internal("bad output index");
  if (x_dtype != DType::kF32 && x_dtype != DType::kF64)
    return Status::Internal("X must be float32 or float64");
  const PlanOutput& po = outputs_[out_idx];
  const int64_t want_cols = values_[po.root].cols;
  if (text_input_ && po.root == 0) {
    // token ids: any width of at least one column (the kernels read the run-time width)
    if (x_cols < 1 || x_cols > (int64_t(1) << 31))
      return Status::Input(name_ + " takes token ids of at least one column, got " +
                           std::to_string(x_cols));
  } else if (x_cols != want_cols)
    return Status::Input("X has " + std::to_string(x_cols) + " features, but " + name_ +
                         (po.root ? "." + po.name : std::string()) + " is expecting " +
                         std::to_string(want_cols) + " features as input.");
  if (f32_only_ && x_dtype != DType::kF32)
    return Status::Input(name_ + " computes in float32: pass X as float32 (the model proxy "
                         "converts other input)");
  if (n <= 0) return Status::OK();
  // The inverse's input Y has its own NaN and infinity rules; X's float32 cast and finite
  // columns are X's alone.
  const bool a_nan = po.root ? inv_allow_nan_ : allow_nan_;
  const bool a_inf = po.root ? inv_allow_inf_ : allow_inf_;
  const bool cast_f32 = po.root ? false : cast_f32_;
  const std::vector<int64_t> no_columns;
  const std::vector<int64_t>& finite_columns = po.root ? no_columns : finite_columns_;
  const size_t xsize = dtype_size(x_dtype);
  const int64_t out_cols = values_[po.value].cols;
  const size_t out_esize = dtype_size(resolve(values_[po.value].kind, x_dtype));
  // Outputs with a whole-batch kernel (Kernel::whole_batch) run as one block of n rows.
  bool whole = false;
  for (int k : po.nodes) whole = whole || nodes_[k].kernel->whole_batch();
  const int64_t block_rows = whole ? n : kBlockRows;
  const int64_t nblocks = (n + block_rows - 1) / block_rows;
  // Rows per block; a call of fewer rows lays out its scratch for that many only.
  const int64_t brows = std::min(block_rows, n);
  std::atomic<const char*> input_error{nullptr};
  const bool check = !(a_nan && a_inf) || cast_f32 || !finite_columns.empty();

  std::atomic<int> bad_kind{0};
  std::string refused;  // kind 5: written once, by the thread that set bad_kind
  const uint64_t call = g_calls.fetch_add(1, std::memory_order_relaxed) + 1;

  auto run_block = [&](int64_t b, std::vector<uint8_t>& scratch, std::vector<View>& views,
                       std::vector<View>& ins) {
    const int64_t r0 = b * block_rows;
    const int64_t rows = std::min(block_rows, n - r0);
    const uint8_t* xb = static_cast<const uint8_t*>(X) + r0 * x_cols * xsize;
    if (check) {
      int64_t where = 0;
      int k = (x_dtype == DType::kF32)
                  ? first_bad(reinterpret_cast<const float*>(xb), rows * x_cols, a_nan,
                              a_inf, false, &where)
                  : first_bad(reinterpret_cast<const double*>(xb), rows * x_cols, a_nan,
                              a_inf, cast_f32, &where);
      if (!k && a_inf) {
        for (int64_t r = 0; r < rows && !k; ++r)
          for (int64_t c : finite_columns) {
            const double v = x_dtype == DType::kF32
                                 ? reinterpret_cast<const float*>(xb)[r * x_cols + c]
                                 : reinterpret_cast<const double*>(xb)[r * x_cols + c];
            if (std::isinf(v)) {
              k = 2;
              break;
            }
          }
      }
      if (k) {
        int expected = 0;
        bad_kind.compare_exchange_strong(expected, k);
        return;
      }
    }
    views[po.root] = View{const_cast<uint8_t*>(xb), x_cols, x_dtype};
    t_block_rows = BlockRows{r0, call, n};
    for (int k : po.nodes) {
      const PlanNode& nd = nodes_[k];
      const ValueInfo& vi = values_[nd.output];
      DType dt = resolve(vi.kind, x_dtype);
      if (nd.output == po.value) {
        views[nd.output] =
            View{static_cast<uint8_t*>(out) + r0 * out_cols * out_esize, out_cols, dt};
      } else {
        views[nd.output] =
            View{scratch.data() + po.scratch_offset[nd.output] * brows, vi.cols, dt};
      }
      ins.clear();
      for (int v : nd.inputs) ins.push_back(views[v]);
      if (nd.output != po.value && nd.kernel->is_view()) {
        views[nd.output] = View{ins[0].data, vi.cols, dt};
        continue;
      }
      if (nd.kernel->checks_input()) {
        std::string why = nd.kernel->refusal(rows, ins.data());
        if (!why.empty()) {
          int expected = 0;
          if (bad_kind.compare_exchange_strong(expected, 5)) refused = std::move(why);
          return;
        }
      }
      nd.kernel->run(rows, ins.data(), views[nd.output]);
      if (t_input_error) {
        const char* expected = nullptr;
        input_error.compare_exchange_strong(expected, t_input_error);
        t_input_error = nullptr;
        int none = 0;
        bad_kind.compare_exchange_strong(none, 6);  // a kernel's input error
        return;
      }
    }
    if (po.value == po.root)  // the output is its input (an empty pipeline, an identity)
      std::memcpy(static_cast<uint8_t*>(out) + r0 * out_cols * out_esize, xb,
                  rows * x_cols * xsize);
  };

  int threads = n_threads > 0 ? n_threads : threads::default_threads();
  if (threads > nblocks) threads = static_cast<int>(nblocks);
  const double work = static_cast<double>(n) * (po.cost_per_row + x_cols);
  const double useful = std::max(1.0, work / kWorkPerThread);
  if (threads > useful) threads = static_cast<int>(useful);
  if (threads <= 1) {
    // This thread's scratch, views and input lists, reused from call to call: predicting
    // on the calling thread allocates nothing once they have grown (freed again when a call
    // needed more than kKeepScratch bytes).
    constexpr size_t kKeepScratch = size_t(16) << 20;
    thread_local std::vector<uint8_t> scratch;
    thread_local std::vector<View> views;
    thread_local std::vector<View> ins;
    const size_t need = static_cast<size_t>(po.scratch_per_row * brows);
    if (scratch.size() < need) scratch.resize(need);
    if (views.size() < values_.size()) views.resize(values_.size());
    struct Trim {
      ~Trim() {
        if (scratch.capacity() > kKeepScratch) std::vector<uint8_t>().swap(scratch);
      }
    } trim;
    for (int64_t b = 0; b < nblocks && bad_kind.load() == 0; ++b) run_block(b, scratch, views, ins);
  } else {
    // Per-thread memory is allocated here, before the loop, so that an allocation failure is
    // reported as a Status. Blocks are handed out in ranges of a quarter of each thread's fair
    // share, so a thread slowed by others still finishes close to the rest.
    struct ThreadState {
      std::vector<uint8_t> scratch;
      std::vector<View> views, ins;
    };
    std::vector<ThreadState> states(static_cast<size_t>(threads));
    for (ThreadState& ts : states) {
      ts.scratch.resize(static_cast<size_t>(po.scratch_per_row * brows));
      ts.views.resize(values_.size());
      ts.ins.reserve(values_.size() + 1024);
    }
    auto body = [&](int slot, int64_t b0, int64_t b1) {
      ThreadState& ts = states[static_cast<size_t>(slot)];
      for (int64_t b = b0; b < b1; ++b) {
        if (bad_kind.load(std::memory_order_relaxed) != 0) return;
        try {
          run_block(b, ts.scratch, ts.views, ts.ins);
        } catch (...) {
          int expected = 0;
          bad_kind.compare_exchange_strong(expected, 4);
        }
      }
    };
    const int64_t grain = std::max<int64_t>(1, nblocks / (int64_t(threads) * 4));
    threads::parallel_for(threads, nblocks, grain, body);
  }
  int k = bad_kind.load();
  if (k == 6) return Status::Input(name_ + ": " + input_error.load());
  if (k == 4) return Status::Memory("out of memory while running the model");
  if (k == 5) return Status::Input(refused);
  if (k == 3)
    return Status::Input(
        "Input X contains infinity or a value too large for dtype('float32'): " + name_ +
        " casts its input to float32, as scikit-learn does.");
  if (k == 1)
    return Status::Input("Input X contains NaN. " + nan_owner_ +
                         " does not accept missing values encoded as NaN natively. Impute them "
                         "first (for example with a SimpleImputer step in the pipeline) or drop "
                         "the rows that contain them.");
  if (k == 2)
    return Status::Input(std::string("Input X contains infinity or a value too large for dtype('") +
                         dtype_name(x_dtype) + "').");
  return Status::OK();
}

}  // namespace mle
