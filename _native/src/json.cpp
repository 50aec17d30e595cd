#include "mle/json.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace mle {
namespace json {

const Value* Value::get(std::string_view k) const {
  if (type != Type::kObject) return nullptr;
  for (const Value* c = first(); c; c = c->next_sibling())
    if (same_text(c->key, k)) return c;
  return nullptr;
}

const Value* Value::at(uint32_t i) const {
  if (type != Type::kArray || i >= size) return nullptr;
  const Value* c = first();
  while (i-- && c) c = c->next_sibling();
  return c;
}

class Parser {
 public:
  Parser(Document* doc, const char* p, size_t n) : doc_(doc), p_(p), end_(p + n), begin_(p) {}

  Status parse_document() {
    skip_ws();
    if (!parse_value(0)) return std::move(err_);
    skip_ws();
    if (p_ != end_ && !error("unexpected data after the JSON value")) return std::move(err_);
    return Status::OK();
  }

 private:
  Document* doc_;
  const char* p_;
  const char* end_;
  const char* begin_;

  std::vector<Value>& nodes() { return doc_->nodes_; }

  // Objects with more keys than this are checked for duplicate keys by sorting.
  static constexpr uint32_t kScanKeys = 16;

  // Whether the object at nodes()[idx] (complete, with more than kScanKeys members) has a key
  // twice. Sorting costs O(k log k) comparisons whatever the keys are; a hash set would be
  // quadratic for keys crafted to collide, and the keys come from an untrusted file.
  bool duplicate_keys(size_t idx) {
    keys_.clear();
    for (size_t c = idx + 1; c; c = nodes()[c].next ? c + nodes()[c].next : 0)
      keys_.push_back(nodes()[c].key);
    std::sort(keys_.begin(), keys_.end());
    return std::adjacent_find(keys_.begin(), keys_.end()) != keys_.end();
  }
  std::vector<std::string_view> keys_;  // duplicate_keys' work space

  // The parsing functions return false on the first error, recorded here (a Status per
  // call would cost more than parsing most values).
  Status err_;
  __attribute__((noinline, cold)) bool error(const char* what) {
    err_ = Status::Format(std::string("invalid JSON at byte ") +
                          std::to_string(static_cast<long long>(p_ - begin_)) + ": " + what);
    return false;
  }

  void skip_ws() {
    // Files written by mle_runtime are compact: the next byte is nearly always a token.
    if (p_ < end_ && static_cast<unsigned char>(*p_) > ' ') return;
    while (p_ < end_ && static_cast<unsigned char>(*p_) <= ' ' &&
           (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r'))
      ++p_;
  }

  // Steps p_ over plain string bytes (printable ASCII other than '"' and '\\'), eight at a
  // time: on return p_ is at end_ or at a byte the caller must look at. Each flag below sets
  // the high bit of the lowest byte that matches exactly (borrows only reach higher bytes),
  // so the lowest flagged byte is the first special one.
  void skip_plain() {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    while (end_ - p_ >= 8) {
      uint64_t v;
      std::memcpy(&v, p_, 8);
      const uint64_t q = v ^ (kOnes * '"');
      const uint64_t b = v ^ (kOnes * '\\');
      const uint64_t special = (((q - kOnes) & ~q) | ((b - kOnes) & ~b) |
                                ((v - kOnes * 0x20) & ~v) | v) & kHigh;
      if (special) {
        p_ += __builtin_ctzll(special) >> 3;
        return;
      }
      p_ += 8;
    }
#endif
    while (p_ < end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return;
      ++p_;
    }
  }

  bool consume_literal(const char* lit, size_t n) {
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, lit, n) != 0) return false;
    p_ += n;
    return true;
  }

  // Appends one value (and its subtree) to the node array.
  bool parse_value(int depth) {
    if (depth > kMaxDepth) return error("nesting deeper than 64 levels");
    if (p_ >= end_) return error("unexpected end of data");
    size_t idx = nodes().size();
    nodes().emplace_back();
    switch (*p_) {
      case '{': return parse_container(idx, depth, true);
      case '[': return parse_container(idx, depth, false);
      case '"': {
        std::string_view s;
        if (!parse_string(&s)) return false;
        nodes()[idx].type = Type::kString;
        nodes()[idx].str = s;
        return true;
      }
      case 't':
        if (!consume_literal("true", 4)) return error("invalid literal");
        nodes()[idx].type = Type::kBool;
        nodes()[idx].boolean = true;
        return true;
      case 'f':
        if (!consume_literal("false", 5)) return error("invalid literal");
        nodes()[idx].type = Type::kBool;
        return true;
      case 'n':
        if (!consume_literal("null", 4)) return error("invalid literal");
        return true;
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return parse_number(idx);
        return error("unexpected character");
    }
  }

  bool parse_container(size_t idx, int depth, bool object) {
    nodes()[idx].type = object ? Type::kObject : Type::kArray;
    const char close = object ? '}' : ']';
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return true;
    }
    size_t prev = 0;
    uint32_t count = 0;
    while (true) {
      skip_ws();
      std::string_view key;
      if (object) {
        if (p_ >= end_ || *p_ != '"') return error("expected a string key");
        if (!parse_string(&key)) return false;
        // Small objects (nearly all of them) compare each key with the earlier ones here;
        // larger ones are checked once complete, by sorting (see duplicate_keys).
        if (count < kScanKeys) {
          for (size_t c = prev ? idx + 1 : 0; c; c = nodes()[c].next ? c + nodes()[c].next : 0)
            if (same_text(nodes()[c].key, key)) return error("duplicate key in object");
        }
        skip_ws();
        if (p_ >= end_ || *p_ != ':') return error("expected ':'");
        ++p_;
        skip_ws();
      }
      size_t child = nodes().size();
      if (!parse_value(depth + 1)) return false;
      nodes()[child].key = key;
      if (prev) nodes()[prev].next = static_cast<uint32_t>(child - prev);
      prev = child;
      if (++count == 0xFFFFFFFFu) return error("too many elements");
      skip_ws();
      if (p_ >= end_) return error("unexpected end of data in container");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == close) {
        if (object && count > kScanKeys && duplicate_keys(idx))
          return error("duplicate key in object");
        ++p_;
        nodes()[idx].size = count;
        return true;
      }
      return error(object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }

  static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool parse_hex4(uint32_t* out) {
    if (end_ - p_ < 4) return error("truncated \\u escape");
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hexval(p_[i]);
      if (h < 0) return error("invalid \\u escape");
      r = (r << 4) | static_cast<uint32_t>(h);
    }
    p_ += 4;
    *out = r;
    return true;
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

  // Checks one UTF-8 sequence starting at p_ (first byte >= 0x80) and steps over it.
  bool skip_utf8() {
    const unsigned char c = static_cast<unsigned char>(*p_);
    int n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return error("invalid UTF-8 in string");
    }
    if (end_ - p_ <= n) return error("truncated UTF-8 sequence");
    for (int i = 1; i <= n; ++i) {
      const unsigned char cc = static_cast<unsigned char>(p_[i]);
      if ((cc & 0xC0) != 0x80) return error("invalid UTF-8 in string");
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return error("invalid UTF-8 in string");
    p_ += n + 1;
    return true;
  }

  bool parse_string(std::string_view* out) {
    ++p_;  // opening quote
    const char* start = p_;
    // Fast path: no escapes, the value is a view into the input.
    while (true) {
      skip_plain();
      if (p_ >= end_) break;
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *out = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\') break;
      if (c < 0x20) return error("control character in string");
      if (c >= 0x80) {
        if (!skip_utf8()) return false;
        continue;
      }
      ++p_;
    }
    if (p_ >= end_) return error("unterminated string");
    std::string& s = doc_->unescaped_.emplace_back(start, static_cast<size_t>(p_ - start));
    while (true) {
      if (p_ >= end_) return error("unterminated string");
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        *out = s;
        return true;
      }
      if (c < 0x20) return error("control character in string");
      if (c >= 0x80) {
        const char* seq = p_;
        if (!skip_utf8()) return false;
        s.append(seq, static_cast<size_t>(p_ - seq));
        continue;
      }
      if (c != '\\') {
        s.push_back(static_cast<char>(c));
        ++p_;
        continue;
      }
      ++p_;
      if (p_ >= end_) return error("unterminated escape");
      char e = *p_++;
      switch (e) {
        case '"': s.push_back('"'); break;
        case '\\': s.push_back('\\'); break;
        case '/': s.push_back('/'); break;
        case 'b': s.push_back('\b'); break;
        case 'f': s.push_back('\f'); break;
        case 'n': s.push_back('\n'); break;
        case 'r': s.push_back('\r'); break;
        case 't': s.push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!parse_hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return error("lone surrogate");
            p_ += 2;
            uint32_t lo = 0;
            if (!parse_hex4(&lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return error("invalid surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return error("lone surrogate");
          }
          append_utf8(&s, cp);
          break;
        }
        default: return error("invalid escape");
      }
    }
  }

  bool parse_number(size_t idx) {
    const char* start = p_;
    bool integral = true;
    const bool negative = p_ < end_ && *p_ == '-';
    if (negative) ++p_;
    if (p_ >= end_) return error("truncated number");
    // The integer part's value, exact when the literal has at most 15 characters (used only
    // then; longer ones wrap harmlessly and are converted by from_chars below).
    uint64_t magnitude = 0;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      const char* q = p_;  // a local cursor stays in a register
      while (q < end_ && *q >= '0' && *q <= '9')
        magnitude = magnitude * 10 + static_cast<uint64_t>(*q++ - '0');
      p_ = q;
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
    Value& v = nodes()[idx];
    v.type = Type::kNumber;
    if (integral && (p_ - start) <= 15) {  // |value| < 10^15 < 2^53: exact as a double too
      v.integer = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
      v.is_int = true;
      v.number = static_cast<double>(v.integer);
      return true;
    }
    auto r = std::from_chars(start, p_, v.number);
    if (r.ec != std::errc() || r.ptr != p_) return error("number out of range");
    if (integral) {
      auto ri = std::from_chars(start, p_, v.integer);
      v.is_int = ri.ec == std::errc() && ri.ptr == p_;
    }
    return true;
  }
};

void Document::trim(size_t max_nodes) {
  if (nodes_.capacity() > max_nodes) std::vector<Value>().swap(nodes_);
  if (!unescaped_.empty()) std::deque<std::string>().swap(unescaped_);
}

Status Document::parse(const char* data, size_t size) {
  nodes_.clear();
  unescaped_.clear();
  nodes_.reserve(size / 8 + 4);
  Parser p(this, data, size);
  Status st = p.parse_document();
  if (!st.ok()) nodes_.assign(1, Value());
  return st;
}

}  // namespace json
}  // namespace mle
