#include "mle/json.h"

#include <charconv>
#include <cstring>

namespace mle {
namespace json {

const Value* Value::get(std::string_view key) const {
  if (type != Type::kObject) return nullptr;
  for (const auto& m : members)
    if (m.first == key) return &m.second;
  return nullptr;
}

namespace {

class Parser {
 public:
  Parser(const char* p, size_t n) : p_(p), end_(p + n), begin_(p) {}

  Status parse_document(Value* out) {
    skip_ws();
    MLE_RETURN_IF_ERROR(parse_value(out, 0));
    skip_ws();
    if (p_ != end_) return error("unexpected data after the JSON value");
    return Status::OK();
  }

 private:
  const char* p_;
  const char* end_;
  const char* begin_;

  Status error(const char* what) const {
    return Status::Format(std::string("invalid JSON at byte ") +
                          std::to_string(static_cast<long long>(p_ - begin_)) + ": " + what);
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool consume_literal(const char* lit) {
    size_t n = std::strlen(lit);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, lit, n) != 0) return false;
    p_ += n;
    return true;
  }

  Status parse_value(Value* v, int depth) {
    if (depth > kMaxDepth) return error("nesting deeper than 64 levels");
    if (p_ >= end_) return error("unexpected end of data");
    switch (*p_) {
      case '{': return parse_object(v, depth);
      case '[': return parse_array(v, depth);
      case '"': v->type = Type::kString; return parse_string(&v->str);
      case 't':
        if (!consume_literal("true")) return error("invalid literal");
        v->type = Type::kBool; v->boolean = true; return Status::OK();
      case 'f':
        if (!consume_literal("false")) return error("invalid literal");
        v->type = Type::kBool; v->boolean = false; return Status::OK();
      case 'n':
        if (!consume_literal("null")) return error("invalid literal");
        v->type = Type::kNull; return Status::OK();
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return parse_number(v);
        return error("unexpected character");
    }
  }

  Status parse_object(Value* v, int depth) {
    v->type = Type::kObject;
    ++p_;  // '{'
    skip_ws();
    if (p_ < end_ && *p_ == '}') { ++p_; return Status::OK(); }
    while (true) {
      skip_ws();
      if (p_ >= end_ || *p_ != '"') return error("expected a string key");
      std::string key;
      MLE_RETURN_IF_ERROR(parse_string(&key));
      for (const auto& m : v->members)
        if (m.first == key) return error("duplicate key in object");
      skip_ws();
      if (p_ >= end_ || *p_ != ':') return error("expected ':'");
      ++p_;
      skip_ws();
      v->members.emplace_back(std::move(key), Value());
      MLE_RETURN_IF_ERROR(parse_value(&v->members.back().second, depth + 1));
      skip_ws();
      if (p_ >= end_) return error("unexpected end of data in object");
      if (*p_ == ',') { ++p_; continue; }
      if (*p_ == '}') { ++p_; return Status::OK(); }
      return error("expected ',' or '}'");
    }
  }

  Status parse_array(Value* v, int depth) {
    v->type = Type::kArray;
    ++p_;  // '['
    skip_ws();
    if (p_ < end_ && *p_ == ']') { ++p_; return Status::OK(); }
    while (true) {
      skip_ws();
      v->items.emplace_back();
      MLE_RETURN_IF_ERROR(parse_value(&v->items.back(), depth + 1));
      skip_ws();
      if (p_ >= end_) return error("unexpected end of data in array");
      if (*p_ == ',') { ++p_; continue; }
      if (*p_ == ']') { ++p_; return Status::OK(); }
      return error("expected ',' or ']'");
    }
  }

  static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  Status parse_hex4(uint32_t* out) {
    if (end_ - p_ < 4) return error("truncated \\u escape");
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hexval(p_[i]);
      if (h < 0) return error("invalid \\u escape");
      r = (r << 4) | static_cast<uint32_t>(h);
    }
    p_ += 4;
    *out = r;
    return Status::OK();
  }

  static void append_utf8(std::string* s, uint32_t cp) {
    if (cp < 0x80) {
      s->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  Status parse_string(std::string* out) {
    ++p_;  // opening quote
    while (true) {
      if (p_ >= end_) return error("unterminated string");
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') { ++p_; return Status::OK(); }
      if (c < 0x20) return error("control character in string");
      if (c != '\\') { out->push_back(static_cast<char>(c)); ++p_; continue; }
      ++p_;
      if (p_ >= end_) return error("unterminated escape");
      char e = *p_++;
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          MLE_RETURN_IF_ERROR(parse_hex4(&cp));
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return error("lone surrogate");
            p_ += 2;
            uint32_t lo = 0;
            MLE_RETURN_IF_ERROR(parse_hex4(&lo));
            if (lo < 0xDC00 || lo > 0xDFFF) return error("invalid surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return error("lone surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: return error("invalid escape");
      }
    }
  }

  Status parse_number(Value* v) {
    const char* start = p_;
    bool integral = true;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ >= end_) return error("truncated number");
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return error("invalid number");
    }
    if (p_ < end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ >= end_ || !(*p_ >= '0' && *p_ <= '9')) return error("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || !(*p_ >= '0' && *p_ <= '9')) return error("invalid number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    v->type = Type::kNumber;
    auto r = std::from_chars(start, p_, v->number);
    if (r.ec != std::errc() || r.ptr != p_) return error("number out of range");
    if (integral) {
      int64_t i = 0;
      auto ri = std::from_chars(start, p_, i);
      if (ri.ec == std::errc() && ri.ptr == p_) {
        v->is_int = true;
        v->integer = i;
      }
    }
    return Status::OK();
  }
};

}  // namespace

Status parse(const char* data, size_t size, Value* out) {
  *out = Value();
  Parser p(data, size);
  return p.parse_document(out);
}

}  // namespace json
}  // namespace mle
