// The op registry: every kernel family adds its OpEntry table here at static-initialisation
// time (an OpRegistrar in its translation unit); plan building looks ops up by name.
#include <unordered_map>

#include "mle/kernel.h"

namespace mle {
namespace {

// A function-local static, so that registrars in other translation units may run in any order.
std::vector<OpEntry>& storage() {
  static std::vector<OpEntry> ops;
  return ops;
}

}  // namespace

OpRegistrar::OpRegistrar(std::vector<OpEntry> ops) {
  for (OpEntry& e : ops) {
    for (AttrSpec& a : e.attrs) a.key = a.name;
    storage().push_back(std::move(e));
  }
}

const std::vector<OpEntry>& registered_ops() { return storage(); }

const OpEntry* find_op(std::string_view name) {
  // Built on first use, after every registrar has run (they run when the module is loaded);
  // the registry does not change afterwards. A name registered twice keeps its first entry
  // (tests/ir/test_op_vocabulary.py refuses duplicates).
  static const std::unordered_map<std::string_view, const OpEntry*> table = [] {
    std::unordered_map<std::string_view, const OpEntry*> t;
    for (const OpEntry& e : storage()) t.emplace(e.name, &e);
    return t;
  }();
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

const AttrSpec* OpEntry::find(std::string_view key) const {
  for (const AttrSpec& a : attrs)
    if (json::same_text(key, a.key)) return &a;
  return nullptr;
}

std::string describe_kind(const AttrSpec& a) {
  switch (a.kind) {
    case AttrKind::kBool: return "bool";
    case AttrKind::kNumber: return "number";
    case AttrKind::kString: return "string";
    case AttrKind::kTensor: break;
  }
  switch (a.dtype) {
    case DType::kF32: return "tensor:float32";
    case DType::kF64: return "tensor:float64";
    case DType::kI32: return "tensor:int32";
    case DType::kI64: return "tensor:int64";
    case DType::kU8: return "tensor:uint8";
    case DType::kU32: return "tensor:uint32";
  }
  return "tensor:?";
}

}  // namespace mle
