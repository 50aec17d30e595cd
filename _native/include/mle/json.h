// A small, strict JSON reader for the graph and metadata sections. Input is untrusted: the
// parser bounds nesting depth, never reads past `size`, and rejects anything that is not
// RFC 8259 JSON (NaN/Infinity literals, trailing commas, duplicate keys, bad escapes).
//
// The document is one flat array of nodes in depth-first order (a container's first child
// follows it directly; siblings are linked by relative offsets), and strings without escapes
// are views into the input, so parsing allocates almost nothing. The input bytes must outlive
// the Document.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "mle/status.h"

namespace mle {
namespace json {

enum class Type : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

// a == b, calling memcmp only when the sizes and first bytes already agree (keys and names
// are short and mostly differ in their first byte).
inline bool same_text(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         (a.empty() || (a[0] == b[0] && std::char_traits<char>::compare(a.data(), b.data(),
                                                                         a.size()) == 0));
}

struct Value {
  Type type = Type::kNull;
  bool boolean = false;
  bool is_int = false;  // the literal had no fraction/exponent and fits int64
  uint32_t size = 0;    // number of children (arrays, objects)
  uint32_t next = 0;    // distance in nodes to the next sibling; 0 for the last child
  int64_t integer = 0;
  double number = 0.0;
  std::string_view str;  // kString: the unescaped text
  std::string_view key;  // the member name when this value sits in an object

  const Value* first() const { return size ? this + 1 : nullptr; }
  const Value* next_sibling() const { return next ? this + next : nullptr; }
  const Value* get(std::string_view k) const;  // nullptr when absent or not an object
  const Value* at(uint32_t i) const;            // i-th child of an array; nullptr if none
  bool is_null() const { return type == Type::kNull; }
  bool is_object() const { return type == Type::kObject; }
  bool is_array() const { return type == Type::kArray; }
  bool is_string() const { return type == Type::kString; }
  bool is_number() const { return type == Type::kNumber; }
  bool is_bool() const { return type == Type::kBool; }
};

constexpr int kMaxDepth = 64;

class Document {
 public:
  // Parses exactly one JSON value spanning [data, data+size) (whitespace allowed around it).
  Status parse(const char* data, size_t size);
  const Value& root() const { return nodes_.front(); }
  // Frees the escaped strings, and the node array when it holds more than `max_nodes`
  // (a document reused across parses keeps a small array's capacity). root() is invalid
  // until the next parse.
  void trim(size_t max_nodes);

 private:
  friend class Parser;
  std::vector<Value> nodes_;
  std::deque<std::string> unescaped_;  // storage for strings that contained escapes
};

}  // namespace json
}  // namespace mle
