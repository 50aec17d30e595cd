// A small, strict JSON reader for the graph section. Input is untrusted: the parser bounds
// nesting depth, never reads past `size`, and rejects anything that is not RFC 8259 JSON
// (NaN/Infinity literals, trailing commas, duplicate keys, invalid UTF-8 escapes).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mle/status.h"

namespace mle {
namespace json {

enum class Type : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

struct Value {
  Type type = Type::kNull;
  bool boolean = false;
  bool is_int = false;  // the literal had no fraction/exponent and fits int64
  int64_t integer = 0;
  double number = 0.0;
  std::string str;
  std::vector<Value> items;                             // kArray
  std::vector<std::pair<std::string, Value>> members;  // kObject, in file order

  const Value* get(std::string_view key) const;  // nullptr when absent or not an object
  bool is_null() const { return type == Type::kNull; }
  bool is_object() const { return type == Type::kObject; }
  bool is_array() const { return type == Type::kArray; }
  bool is_string() const { return type == Type::kString; }
  bool is_number() const { return type == Type::kNumber; }
  bool is_bool() const { return type == Type::kBool; }
};

constexpr int kMaxDepth = 64;

// Parses exactly one JSON value spanning [data, data+size) (whitespace allowed around it).
Status parse(const char* data, size_t size, Value* out);

}  // namespace json
}  // namespace mle
