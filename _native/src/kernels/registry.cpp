// The op registry: every kernel family adds its OpEntry table here at static-initialisation
// time (an OpRegistrar in its translation unit); plan building looks ops up by name.

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

namespace {

// Op names to entries: open addressing over a power-of-two table at most a quarter full.
// The table holds only registered names; a looked-up name (from an untrusted file) costs one
// hash and at most a full probe of this fixed-size table, whatever it is.
class OpTable {
 public:
  explicit OpTable(const std::vector<OpEntry>& ops) {
    size_t n = 16;
    while (n < 4 * ops.size()) n *= 2;
    slots_.assign(n, Slot{});
    for (const OpEntry& e : ops) {
      const std::string_view name = e.name;
      size_t i = hash(name) & (n - 1);
      bool seen = false;
      for (; slots_[i].entry; i = (i + 1) & (n - 1))
        if (json::same_text(slots_[i].name, name)) seen = true;
      if (!seen) slots_[i] = Slot{name, &e};  // a name registered twice keeps its first entry
    }
  }
  // The table is never full, so every probe sequence ends at an empty slot.
  const OpEntry* find(std::string_view name) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash(name) & mask; slots_[i].entry; i = (i + 1) & mask)
      if (json::same_text(slots_[i].name, name)) return slots_[i].entry;
    return nullptr;
  }

 private:
  static size_t hash(std::string_view s) {
    size_t h = s.size();
    for (char c : s) h = h * 31 + static_cast<unsigned char>(c);
    return h ^ (h >> 7);
  }
  struct Slot {
    std::string_view name;
    const OpEntry* entry = nullptr;
  };
  std::vector<Slot> slots_;
};

}  // namespace

const OpEntry* find_op(std::string_view name) {
  // Built on first use, after every registrar has run (they run when the module is loaded);
  // the registry does not change afterwards. A name registered twice keeps its first entry
  // (tests/ir/test_op_vocabulary.py refuses duplicates).
  static const OpTable table(storage());
  return table.find(name);
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
