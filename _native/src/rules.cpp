// Prediction rules: validation at load and their canonical JSON (see mle/rules.h and
// docs/FORMAT.md sections 9.3-9.4 and 12).
#include "mle/rules.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string_view>

#include "mle/plan.h"

namespace mle {
namespace {

// A string dtype may be wider than its longest label (numpy keeps the width of the array the
// labels came from, e.g. np.genfromtxt(dtype="U20")), by at most this many characters: every
// predicted label is one element of that width, so the width must come from the file's labels.
constexpr int64_t kPadChars = 64;
constexpr size_t kMaxIdentifier = 64;

const char* const kOutputDtypes[] = {"float32", "float64", "int32", "int64", "bool"};
const char* const kFillDtypes[] = {"bool",   "int8",   "int16",   "int32",   "int64",
                                   "uint8",  "uint16", "uint32",  "uint64",  "float16",
                                   "float32", "float64"};

// Where a record sits, for error messages: built into a string only when an error is reported
// (validating a valid file allocates no message text).
struct Where {
  Where(const char* s) : p{s} {}  // NOLINT: implicit from a literal
  Where(std::initializer_list<std::string_view> parts, int64_t index = -1) : index(index) {
    size_t i = 0;
    for (std::string_view v : parts) p[i++] = v;
  }
  std::string str() const {
    std::string s;
    for (std::string_view v : p) s.append(v);
    if (index >= 0) s += std::to_string(index);
    return s;
  }
  std::string_view p[6];
  int64_t index = -1;
};

template <size_t N>
bool one_of(std::string_view s, const char* const (&names)[N]) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

template <size_t N>
std::string list_of(const char* const (&names)[N]) {
  std::string s;
  for (const char* n : names) s += std::string(s.empty() ? "" : ", ") + n;
  return s;
}

// A short identifier: [A-Za-z_][A-Za-z0-9_]*, at most kMaxIdentifier characters.
bool identifier(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdentifier) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool scalar(const json::Value& v) {
  return v.is_string() || v.is_bool() || v.is_number();
}

// Characters as numpy counts them (code points) of a valid UTF-8 string.
int64_t chars(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// ------------------------------------------------------------------ canonical JSON writer

// Appends s as a JSON string: runs of bytes that need no escape are copied whole (nearly every
// label and term is one run), '"', '\\' and control bytes are escaped, the rest (UTF-8
// included) is written as is.
void put_string(std::string* o, std::string_view s) {
  o->push_back('"');
  const char* d = s.data();
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n) {
      const unsigned char c = static_cast<unsigned char>(d[j]);
      if (c == '"' || c == '\\' || c < 0x20) break;
      ++j;
    }
    o->append(d + i, j - i);
    if (j == n) break;
    const unsigned char c = static_cast<unsigned char>(d[j]);
    if (c == '"' || c == '\\') {
      const char esc[2] = {'\\', static_cast<char>(c)};
      o->append(esc, 2);
    } else {
      static const char kHex[] = "0123456789abcdef";
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      o->append(esc, 6);
    }
    i = j + 1;
  }
  o->push_back('"');
}

// Appends an integer in decimal, without a temporary string.
void put_int(std::string* o, int64_t x) {
  char buf[24];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, x);
  o->append(buf, static_cast<size_t>(r.ptr - buf));
}

void put_scalar(std::string* o, const json::Value& v) {
  if (v.is_string()) {
    put_string(o, v.str);
  } else if (v.is_bool()) {
    *o += v.boolean ? "true" : "false";
  } else if (v.is_int) {
    put_int(o, v.integer);
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v.number);
    *o += buf;
    if (std::string_view(buf).find_first_of(".eE") == std::string_view::npos) *o += ".0";
  }
}

void put_scalars(std::string* o, const json::Value& list) {
  o->push_back('[');
  for (const json::Value* v = list.first(); v; v = v->next_sibling()) {
    if (v != list.first()) o->push_back(',');
    put_scalar(o, *v);
  }
  o->push_back(']');
}

// Appends to a string through a cursor: room(k) makes k bytes writable at the cursor (growing
// the string geometrically), the writer advances `used`, and the destructor trims the string
// to what was written. Long lists (a text vocabulary of thousands of terms) are written this
// way without a capacity check and a call per byte or per element.
class Sink {
 public:
  explicit Sink(std::string* o) : o_(o), used(o->size()) {}
  ~Sink() { o_->resize(used); }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  char* room(size_t k) {
    if (o_->size() - used < k) o_->resize(std::max(2 * o_->size(), used + k) + 64);
    return &(*o_)[0] + used;
  }
  std::string* o_;
  size_t used;
};

// Bytes a JSON string may hold unescaped: printable ASCII but '"' and '\\', and every
// byte of a multi-byte UTF-8 sequence (the parser has checked the encoding).
struct PlainBytes {
  bool b[256];
  constexpr PlainBytes() : b() {
    for (int c = 0; c < 256; ++c) b[c] = c >= 0x20 && c != '"' && c != '\\';
  }
};
constexpr PlainBytes kPlainBytes;

void put_plain_to(Sink* o, const json::Value& v) {
  if (v.is_string()) {
    const std::string_view s = v.str;
    char* const start = o->room(6 * s.size() + 2);  // every byte escaped as \u00XX at most
    char* p = start;
    *p++ = '"';
    size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    // Eight bytes at a time while none is '"', '\\' or below 0x20 (a flagged byte may also
    // flag higher ones through a borrow; then the chunk is done byte by byte below).
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      const uint64_t q = w ^ (kOnes * '"');
      const uint64_t b = w ^ (kOnes * '\\');
      if ((((q - kOnes) & ~q) | ((b - kOnes) & ~b) | ((w - kOnes * 0x20) & ~w)) & kHigh) break;
      std::memcpy(p, &w, 8);
      p += 8;
    }
#endif
    for (; i < s.size(); ++i) {
      const char ch = s[i];
      const unsigned char c = static_cast<unsigned char>(ch);
      if (kPlainBytes.b[c]) {
        *p++ = ch;
      } else if (c == '"' || c == '\\') {
        *p++ = '\\';
        *p++ = ch;
      } else {
        static const char kHex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        std::memcpy(p, esc, 6);
        p += 6;
      }
    }
    *p++ = '"';
    o->used += static_cast<size_t>(p - start);
  } else if (v.is_number() && v.is_int) {
    char* const p = o->room(24);
    o->used += static_cast<size_t>(std::to_chars(p, p + 24, v.integer).ptr - p);
  } else if (v.is_array()) {
    *o->room(1) = '[';
    ++o->used;
    for (const json::Value* c = v.first(); c; c = c->next_sibling()) {
      if (c != v.first()) {
        *o->room(1) = ',';
        ++o->used;
      }
      put_plain_to(o, *c);
    }
    *o->room(1) = ']';
    ++o->used;
  } else {
    std::string t;
    if (v.is_null()) t = "null"; else put_scalar(&t, v);
    std::memcpy(o->room(t.size()), t.data(), t.size());
    o->used += t.size();
  }
}

// A validated JSON value made of nulls, scalars and arrays (the input rules' lists).
void put_plain(std::string* o, const json::Value& v) {
  Sink sink(o);
  put_plain_to(&sink, v);
}

void put_ints(std::string* o, const std::vector<int64_t>& xs) {
  o->push_back('[');
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i) o->push_back(',');
    put_int(o, xs[i]);
  }
  o->push_back(']');
}

// A validated text vocabulary ([[terms], [columns]], docs/FORMAT.md 9.9) as it stands in the
// graph section's bytes `src` when those bytes already are its canonical text (what put_plain
// writes; the reference writer's compact JSON without escapes is), else an empty view. Each
// term must view `src` itself (a term with escapes views the parser's own copy instead) at the
// place that compact JSON puts it, and the column bytes must spell the validated columns in
// canonical decimal, so the view is byte for byte what put_plain would write, found with a
// comparison per term and one pass over the columns' digits instead of writing it all again.
std::string_view canonical_vocabulary(const json::Value& voc, std::string_view src) {
  const json::Value* terms = voc.at(0);
  const json::Value* cols = voc.at(1);
  if (src.empty() || !terms || !cols || !terms->first() || !cols->first()) return {};
  const uintptr_t lo = reinterpret_cast<uintptr_t>(src.data());
  const uintptr_t hi = lo + src.size();
  const uintptr_t t0 = reinterpret_cast<uintptr_t>(terms->first()->str.data());
  if (t0 < lo + 3 || t0 > hi) return {};
  const char* const begin = src.data() + (t0 - lo - 3);
  if (std::memcmp(begin, "[[\"", 3) != 0) return {};
  // Terms: "t0","t1",...,"tn" from begin + 3 on, each where the previous one's text ends plus
  // the three bytes '"', ',' and '"'.
  const char* p = begin + 3;
  const char* const end = src.data() + src.size();
  for (const json::Value* t = terms->first(); t; t = t->next_sibling()) {
    if (t != terms->first()) {
      if (end - p < 3 || std::memcmp(p, "\",\"", 3) != 0) return {};
      p += 3;
    }
    if (!t->is_string() || t->str.data() != p || static_cast<size_t>(end - p) < t->str.size())
      return {};
    p += t->str.size();
  }
  if (end - p < 4 || std::memcmp(p, "\"],[", 4) != 0) return {};
  p += 4;
  // Columns: c0,c1,...,cn]] in decimal without leading zeros, equal to the parsed values.
  for (const json::Value* c = cols->first(); c; c = c->next_sibling()) {
    if (c != cols->first()) {
      if (p == end || *p != ',') return {};
      ++p;
    }
    const char* const digits = p;
    int64_t x = 0;
    while (p != end && *p >= '0' && *p <= '9' && p - digits < 10) x = x * 10 + (*p++ - '0');
    if (p == digits || (*digits == '0' && p - digits > 1) || !c->is_int || c->integer != x)
      return {};
  }
  if (end - p < 2 || p[0] != ']' || p[1] != ']') return {};
  return std::string_view(begin, static_cast<size_t>(p + 2 - begin));
}

// ------------------------------------------------------------------ the records

struct LabelSet {
  std::string dtype;
  char kind = 'O';     // 'O' (object), 'U', 'b', 'i', 'u', 'f'
  int64_t size = 0;    // bytes per element; characters for 'U'
  const json::Value* values = nullptr;
  int64_t longest = 0;  // characters of the longest label
};

struct OutputRule {
  bool has_labels = false;
  bool labels_list = false;   // "labels": [k0, k1, ...] (else one set k)
  std::vector<int64_t> labels;
  std::string dtype;
  bool column = false;
  bool has_splits = false;
  std::vector<int64_t> splits;
  std::vector<int64_t> shape;  // per-row shape of an N-D output (neural networks)
  std::vector<std::string> block_dtypes;  // with splits: one dtype per block, as a tuple
  std::vector<bool> flat_blocks;  // with splits: blocks (of one column) returned as shape (n,)
  int64_t sparse_columns = 0;  // "sparse": a CSR matrix of this many columns from (values, indices)
  bool sparse_ones = false;    // "sparse" [n, "ones"]: every stored entry is 1
  const json::Value* columns = nullptr;  // the output's column names (get_feature_names_out)
  std::string_view container;            // "pandas" or "polars": set_output(transform=...)
};

struct Keyword {
  std::string_view method, keyword, output;
  const json::Value* value;
};

struct Rules {
  std::string_view estimator_type;
  std::vector<LabelSet> labels;
  std::vector<OutputRule> outputs;  // one per plan output
  std::vector<Keyword> keywords;
  const json::Value* feature_names = nullptr;
  bool has_integer = false;
  bool keep = false;
  std::vector<std::string_view> fill_dtypes;
  const json::Value* categories = nullptr;
  bool unseen_error = false;
  bool vector = false;  // 1-D input is one column (IsotonicRegression)
  const json::Value* strings = nullptr;  // [[column, [vocabulary]], ...]
  const json::Value* unknown = nullptr;  // [[mode, [columns], [[known]...], text], ...]
  const json::Value* nan = nullptr;      // [[columns], owner]
  const json::Value* unread = nullptr;   // [columns] no node reads
  // Label inputs (docs/FORMAT.md 9.7): y as labels of set k ([k, mode]), label sets as an
  // indicator over set k (k), dicts as named features ([[names], separator]), and the
  // columns in which a missing value is new at transform ([columns]).
  const json::Value* target = nullptr;
  const json::Value* sets = nullptr;
  const json::Value* dicts = nullptr;
  const json::Value* new_missing = nullptr;
  const json::Value* hashed = nullptr;  // [input_type, alternate_sign, dtype] (FeatureHasher)
  // [[columns], missing value or null (NaN), [[method, output], ...]]: a batch whose entries
  // in these columns are all missing runs the paired output instead (FORMAT.md 9.7).
  const json::Value* all_missing = nullptr;
  std::vector<int64_t> shape;  // per-row shape of an N-D input X (neural networks)
  const json::Value* text = nullptr;  // documents as token ids (FORMAT.md 9.9)
};

class Builder {
 public:
  Builder(const std::vector<PlanOutput>& outputs, const std::vector<ValueInfo>& values,
          int64_t n_features)
      : outputs_(outputs), values_(values), n_features_(n_features) {
    r_.outputs.resize(outputs.size());
  }

  Status from_graph(const json::Value& g);
  Status from_metadata(const json::Value& meta);
  Status check();
  // `graph_text`: the graph section's bytes, which the parsed values may view (or empty).
  std::string canonical(std::string_view graph_text) const;

 private:
  int find_output(std::string_view name) const {
    for (size_t i = 0; i < outputs_.size(); ++i)
      if (outputs_[i].name == name) return static_cast<int>(i);
    return -1;
  }
  Status estimator_type(const json::Value& v, const Where& what);
  Status label_set(const json::Value* dtype, const json::Value* values, const Where& what);
  Status output_opts(int out, const json::Value& opts, const Where& what);
  Status output_dtype(int out, const json::Value& v, const Where& what);
  Status splits(int out, const json::Value& v, const Where& what);
  Status keywords(const json::Value& v, const Where& what);
  Status feature_names(const json::Value& v, const Where& what);
  Status integer(const json::Value& v, const Where& what);
  Status categories(const json::Value& v, const Where& what);
  Status unseen(const json::Value& v, const Where& what);
  Status strings(const json::Value& v, const Where& what);
  Status unknown(const json::Value& v, const Where& what);
  Status nan(const json::Value& v, const Where& what);
  // A list of input columns: strictly increasing integers in [0, n_features).
  Status increasing_columns(const json::Value& list, const Where& what) const;
  Status unread(const json::Value& v, const Where& what);
  Status label_input(const json::Value& v, const Where& what);
  Status all_missing(const json::Value& v, const Where& what);
  Status shape(const json::Value& v, int64_t cols, const Where& what, std::vector<int64_t>* out);
  Status text(const json::Value& v, const Where& what);

  const std::vector<PlanOutput>& outputs_;
  const std::vector<ValueInfo>& values_;
  int64_t n_features_;
  Rules r_;
};

Status Builder::estimator_type(const json::Value& v, const Where& what) {
  if (!v.is_string() || !identifier(v.str))
    return Status::Format(what.str() + " must be a short identifier such as \"classifier\" (letters, "
                          "digits and '_', at most 64 characters)");
  r_.estimator_type = v.str;
  return Status::OK();
}

// Parses a dtype spelled as numpy's dtype.str ("<i8", "|b1", "<U10") or "object".
bool parse_label_dtype(std::string_view s, LabelSet* ls) {
  if (s == "object") {
    ls->kind = 'O';
    return true;
  }
  size_t i = 0;
  if (i < s.size() && (s[i] == '<' || s[i] == '>' || s[i] == '|' || s[i] == '=')) ++i;
  if (i >= s.size()) return false;
  const char kind = s[i++];
  if (i >= s.size() || s.size() - i > 9) return false;
  int64_t n = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    n = n * 10 + (s[i] - '0');
  }
  switch (kind) {
    case 'b': if (n != 1) return false; break;
    case 'i': case 'u': if (n != 1 && n != 2 && n != 4 && n != 8) return false; break;
    case 'f': if (n != 2 && n != 4 && n != 8) return false; break;
    case 'U': if (n < 1) return false; break;
    default: return false;
  }
  ls->kind = kind;
  ls->size = n;
  return true;
}

bool label_fits(const LabelSet& ls, const json::Value& v, bool* strings) {
  switch (ls.kind) {
    case 'O':
      // all strings or all (non-bool) integers, as describe_classes writes them
      if (v.is_string()) return *strings;
      return !*strings && v.is_number() && v.is_int;
    case 'U': return v.is_string();
    case 'b': return v.is_bool();
    case 'i': {
      if (!v.is_number() || !v.is_int) return false;
      if (ls.size == 8) return true;
      const int64_t hi = (int64_t(1) << (8 * ls.size - 1)) - 1;
      return v.integer >= -hi - 1 && v.integer <= hi;
    }
    case 'u': {
      if (!v.is_number() || !v.is_int || v.integer < 0) return false;
      return ls.size == 8 || v.integer < (int64_t(1) << (8 * ls.size));
    }
    case 'f': {
      if (!v.is_number() || !std::isfinite(v.number)) return false;
      const double hi = ls.size == 2 ? 65504.0 : ls.size == 4 ? double(FLT_MAX) : DBL_MAX;
      return std::fabs(v.number) <= hi;
    }
  }
  return false;
}

Status Builder::label_set(const json::Value* dtype, const json::Value* values,
                          const Where& what) {
  LabelSet ls;
  if (!dtype || !dtype->is_string() || !parse_label_dtype(dtype->str, &ls))
    return Status::Format(what.str() + ": the dtype must be \"object\" or a numpy dtype of kind b, i, "
                          "u, f or U (such as \"<i8\" or \"<U10\")");
  ls.dtype = std::string(dtype->str);
  if (!values || !values->is_array() || values->size == 0)
    return Status::Format(what.str() + ": the labels must be a non-empty list");
  bool strings = values->first()->is_string();
  for (const json::Value* v = values->first(); v; v = v->next_sibling()) {
    if (!label_fits(ls, *v, &strings))
      return Status::Format(what.str() + ": the labels must all be values of dtype " + ls.dtype +
                            " (strings for U, booleans for b, integers in range for i and u, "
                            "finite numbers for f, all strings or all integers for object)");
    if (v->is_string()) ls.longest = std::max(ls.longest, chars(v->str));
  }
  ls.values = values;
  r_.labels.push_back(std::move(ls));
  return Status::OK();
}

Status Builder::output_dtype(int out, const json::Value& v, const Where& what) {
  if (!v.is_string() || !one_of(v.str, kOutputDtypes))
    return Status::Format(what.str() + " must be one of " + list_of(kOutputDtypes));
  r_.outputs[out].dtype = std::string(v.str);
  return Status::OK();
}

Status Builder::splits(int out, const json::Value& v, const Where& what) {
  OutputRule& o = r_.outputs[out];
  if (!v.is_array() || v.size == 0)
    return Status::Format(what.str() + " must be a non-empty list of column counts");
  for (const json::Value* n = v.first(); n; n = n->next_sibling()) {
    if (!n->is_int || n->integer < 1 || n->integer > (int64_t(1) << 31))
      return Status::Format(what.str() + " must hold positive column counts");
    o.splits.push_back(n->integer);
  }
  o.has_splits = true;
  return Status::OK();
}

Status Builder::output_opts(int out, const json::Value& opts, const Where& what) {
  OutputRule& o = r_.outputs[out];
  for (const json::Value* m = opts.first(); m; m = m->next_sibling()) {
    const std::string_view key = m->key;
    const Where w{{what.p[0], what.p[1], what.p[2], " option '", key, "'"}};
    if (key == "ravel") {
      if (!m->is_bool()) return Status::Format(w.str() + " must be a boolean");
    } else if (key == "dtype") {
      MLE_RETURN_IF_ERROR(output_dtype(out, *m, w));
    } else if (key == "column") {
      if (!m->is_bool()) return Status::Format(w.str() + " must be a boolean");
      o.column = m->boolean;
    } else if (key == "splits") {
      MLE_RETURN_IF_ERROR(splits(out, *m, w));
    } else if (key == "shape") {
      MLE_RETURN_IF_ERROR(shape(*m, values_[outputs_[out].value].cols, w, &o.shape));
    } else if (key == "block_dtypes") {
      // One dtype per block of a split output, returned as a tuple (kneighbors' (distances,
      // indices)); checked against the splits below.
      if (!m->is_array() || m->size == 0)
        return Status::Format(w.str() + " must be a non-empty list of dtypes");
      for (const json::Value* d = m->first(); d; d = d->next_sibling()) {
        if (!d->is_string() || !one_of(d->str, kOutputDtypes))
          return Status::Format(w.str() + " entries must be one of " + list_of(kOutputDtypes));
        o.block_dtypes.emplace_back(d->str);
      }
    } else if (key == "flat_blocks") {
      // One flag per block of a split output: a flagged block has one column and is
      // returned as shape (n,); checked against the splits below.
      if (!m->is_array() || m->size == 0)
        return Status::Format(w.str() + " must be a non-empty list of booleans");
      for (const json::Value* d = m->first(); d; d = d->next_sibling()) {
        if (!d->is_bool()) return Status::Format(w.str() + " entries must be booleans");
        o.flat_blocks.push_back(d->boolean);
      }
    } else if (key == "sparse") {
      // [n_columns, "values" | "ones"]: the two blocks of a split output (values, column
      // indices; -1 marks no entry) returned as a CSR matrix; checked against the splits below.
      if (!m->is_array() || m->size != 2 || !m->at(0)->is_int || m->at(0)->integer < 1 ||
          m->at(0)->integer > (int64_t(1) << 31) || !m->at(1)->is_string() ||
          (m->at(1)->str != "values" && m->at(1)->str != "ones"))
        return Status::Format(w.str() + " must be [n_columns, \"values\" or \"ones\"] with "
                              "n_columns a positive integer");
      o.sparse_columns = m->at(0)->integer;
      o.sparse_ones = m->at(1)->str == "ones";
    } else if (key == "columns") {
      const int64_t cols = values_[outputs_[out].value].cols;
      bool ok = m->is_array() && static_cast<int64_t>(m->size) == cols;
      for (const json::Value* c = ok ? m->first() : nullptr; c && ok; c = c->next_sibling())
        ok = c->is_string() && c->str.size() <= 4096;
      if (!ok)
        return Status::Format(w.str() + " must be a list of " + std::to_string(cols) +
                              " strings (one name per output column, at most 4096 bytes each)");
      o.columns = m;
    } else if (key == "container") {
      if (!m->is_string() || (m->str != "pandas" && m->str != "polars"))
        return Status::Format(w.str() + " must be \"pandas\" or \"polars\"");
      o.container = m->str;
    } else if (key == "labels") {
      o.has_labels = true;
      if (m->is_int) {
        o.labels.push_back(m->integer);
      } else if (m->is_array() && m->size > 0) {
        o.labels_list = true;
        for (const json::Value* k = m->first(); k; k = k->next_sibling()) {
          if (!k->is_int) return Status::Format(w.str() + " must hold label set indices");
          o.labels.push_back(k->integer);
        }
      } else {
        return Status::Format(w.str() + " must be a label set index or a non-empty list of them");
      }
    } else {
      return Status::Format(what.str() + ": unknown option '" + std::string(key) +
                            "' (known: ravel, dtype, column, labels, splits, shape, columns, container, "
                            "block_dtypes, flat_blocks, sparse); the file needs a newer mle_runtime or is damaged");
    }
  }
  if (!o.container.empty() && !o.columns)
    return Status::Format(what.str() + ": option 'container' needs 'columns'");
  if (o.columns && (o.has_labels || o.has_splits || o.column || !o.shape.empty() ||
                    (opts.get("ravel") && opts.get("ravel")->is_bool() &&
                     opts.get("ravel")->boolean)))
    return Status::Format(what.str() + ": option 'columns' names the columns of a plain 2-D "
                          "output (no ravel, labels, splits, column or shape)");
  return Status::OK();
}

Status Builder::keywords(const json::Value& v, const Where& what) {
  if (!v.is_array()) return Status::Format(what.str() + " must be a list");
  for (const json::Value* e = v.first(); e; e = e->next_sibling()) {
    if (!e->is_array() || e->size != 4 || !e->at(0)->is_string() || !e->at(1)->is_string() ||
        !scalar(*e->at(2)) || !e->at(3)->is_string())
      return Status::Format(what.str() + " entries must be [method, keyword, value, output] (value a "
                            "string, number or boolean)");
    Keyword k{e->at(0)->str, e->at(1)->str, e->at(3)->str, e->at(2)};
    if (!identifier(k.keyword) || k.keyword == "X" || k.keyword == "n_threads")
      return Status::Format(what.str() + ": keyword '" + std::string(k.keyword) +
                            "' must be a short identifier other than X and n_threads");
    if (find_output(k.method) < 0)
      return Status::Format(what.str() + ": method '" + std::string(k.method) +
                            "' is not a graph output");
    if (find_output(k.output) < 0)
      return Status::Format(what.str() + ": keyword '" + std::string(k.keyword) + "' names output '" +
                            std::string(k.output) + "', which the graph does not have");
    r_.keywords.push_back(k);
  }
  return Status::OK();
}

Status Builder::feature_names(const json::Value& v, const Where& what) {
  if (!v.is_array() || static_cast<int64_t>(v.size) != n_features_)
    return Status::Format(what.str() + " must be a list of " + std::to_string(n_features_) +
                          " strings (one per input column), got " +
                          (v.is_array() ? std::to_string(v.size) + " entries" : "no list"));
  for (const json::Value* n = v.first(); n; n = n->next_sibling())
    if (!n->is_string()) return Status::Format(what.str() + " must hold strings only");
  r_.feature_names = &v;
  return Status::OK();
}

Status Builder::integer(const json::Value& v, const Where& what) {
  if (!v.is_object()) return Status::Format(what.str() + " must be an object");
  for (const json::Value* m = v.first(); m; m = m->next_sibling()) {
    if (m->key == "keep") {
      if (!m->is_bool()) return Status::Format(what.str() + ": 'keep' must be a boolean");
      r_.keep = m->boolean;
    } else if (m->key == "fill_dtypes") {
      if (!m->is_array()) return Status::Format(what.str() + ": 'fill_dtypes' must be a list");
      for (const json::Value* d = m->first(); d; d = d->next_sibling()) {
        if (!d->is_string() || !one_of(d->str, kFillDtypes))
          return Status::Format(what.str() + ": 'fill_dtypes' must hold numeric dtype names (" +
                                list_of(kFillDtypes) + ")");
        r_.fill_dtypes.push_back(d->str);
      }
    } else {
      return Status::Format(what.str() + ": unknown key '" + std::string(m->key) +
                            "' (known: keep, fill_dtypes)");
    }
  }
  r_.has_integer = true;
  return Status::OK();
}

Status Builder::categories(const json::Value& v, const Where& what) {
  if (!v.is_object())
    return Status::Format(what.str() + " must map column names to lists of categories or null");
  for (const json::Value* m = v.first(); m; m = m->next_sibling()) {
    if (m->is_null()) continue;
    bool ok = m->is_array();
    for (const json::Value* c = ok ? m->first() : nullptr; c && ok; c = c->next_sibling())
      ok = scalar(*c);
    if (!ok)
      return Status::Format(what.str() + ": column '" + std::string(m->key) +
                            "' must map to a list of categories (strings, numbers or "
                            "booleans) or null");
  }
  r_.categories = &v;
  return Status::OK();
}

Status Builder::unseen(const json::Value& v, const Where& what) {
  if (!v.is_string() || v.str != "error")
    return Status::Format(what.str() + " must be \"error\" (refuse categories unseen in training)");
  r_.unseen_error = true;
  return Status::OK();
}

// Input columns holding strings (docs/FORMAT.md, section 9.3): [[column, [vocabulary]], ...],
// columns strictly increasing inside [0, n_features), each vocabulary a list of strings in
// strictly increasing byte order (UTF-8 byte order is code-point order, the order of Python's
// sorted()), so the input adapter can look values up by binary search or a hash table.
Status Builder::strings(const json::Value& v, const Where& what) {
  if (!v.is_array())
    return Status::Format(what.str() + " must be a list of [column, [strings]]");
  int64_t prev = -1;
  for (const json::Value* e = v.first(); e; e = e->next_sibling()) {
    if (!e->is_array() || e->size != 2 || !e->at(0)->is_number() || !e->at(0)->is_int ||
        !e->at(1)->is_array())
      return Status::Format(what.str() + " entries must be [column, [strings]]");
    const int64_t c = e->at(0)->integer;
    if (c <= prev || c >= n_features_)
      return Status::Format(what.str() + ": column " + std::to_string(c) +
                            " must be below " + std::to_string(n_features_) +
                            " and the columns strictly increasing");
    prev = c;
    const json::Value* last = nullptr;
    for (const json::Value* s = e->at(1)->first(); s; s = s->next_sibling()) {
      if (!s->is_string())
        return Status::Format(what.str() + ": column " + std::to_string(c) +
                              "'s vocabulary must hold strings only");
      if (last && !(last->str < s->str))
        return Status::Format(what.str() + ": column " + std::to_string(c) +
                              "'s vocabulary must be sorted without duplicates");
      last = s;
    }
  }
  r_.strings = &v;
  return Status::OK();
}

// Checks of unknown categories made on the input (docs/FORMAT.md, section 9.3):
// [[mode, [columns], [[known values]...], text], ...] with mode "error" or "warn", input
// columns inside [0, n_features), one list of known values per column (numbers; null for NaN)
// and the warning's closing text.
Status Builder::unknown(const json::Value& v, const Where& what) {
  if (!v.is_array())
    return Status::Format(what.str() + " must be a list of [mode, [columns], [[known]], text]");
  for (const json::Value* e = v.first(); e; e = e->next_sibling()) {
    if (!e->is_array() || e->size != 4 || !e->at(0)->is_string() || !e->at(1)->is_array() ||
        !e->at(2)->is_array() || !e->at(3)->is_string() || e->at(1)->size != e->at(2)->size ||
        e->at(1)->size == 0)
      return Status::Format(what.str() + " entries must be [mode, [columns], [[known]], text] "
                            "with one list of known values per column");
    if (e->at(0)->str != "error" && e->at(0)->str != "warn")
      return Status::Format(what.str() + ": mode must be \"error\" or \"warn\"");
    for (const json::Value* c = e->at(1)->first(); c; c = c->next_sibling())
      if (!c->is_number() || !c->is_int || c->integer < 0 || c->integer >= n_features_)
        return Status::Format(what.str() + ": columns must be integers in [0, " +
                              std::to_string(n_features_) + ")");
    for (const json::Value* k = e->at(2)->first(); k; k = k->next_sibling()) {
      if (!k->is_array()) return Status::Format(what.str() + ": known values must be lists");
      for (const json::Value* x = k->first(); x; x = x->next_sibling())
        if (!x->is_number() && !x->is_null())
          return Status::Format(what.str() + ": known values must be numbers or null (NaN)");
    }
  }
  r_.unknown = &v;
  return Status::OK();
}

Status Builder::increasing_columns(const json::Value& list, const Where& what) const {
  int64_t prev = -1;
  for (const json::Value* c = list.first(); c; c = c->next_sibling()) {
    if (!c->is_number() || !c->is_int || c->integer <= prev || c->integer >= n_features_)
      return Status::Format(what.str() + ": columns must be strictly increasing integers in [0, " +
                            std::to_string(n_features_) + ")");
    prev = c->integer;
  }
  return Status::OK();
}

// Columns in which NaN is refused on the input (docs/FORMAT.md, section 9.7): [[columns],
// owner], columns strictly increasing inside [0, n_features), owner the step named.
Status Builder::nan(const json::Value& v, const Where& what) {
  if (!v.is_array() || v.size != 2 || !v.at(0)->is_array() || !v.at(1)->is_string() ||
      v.at(1)->str.empty() || v.at(1)->str.size() > 256)
    return Status::Format(what.str() + " must be [[columns], step name]");
  MLE_RETURN_IF_ERROR(increasing_columns(*v.at(0), what));
  r_.nan = &v;
  return Status::OK();
}

// Input columns that no node reads (docs/FORMAT.md, section 9.7): [columns], strictly
// increasing inside [0, n_features). The input adapter does not convert them (a dropped
// column may hold anything, strings included, as in scikit-learn).
Status Builder::unread(const json::Value& v, const Where& what) {
  if (!v.is_array() || v.size == 0)
    return Status::Format(what.str() + " must be a non-empty list of columns");
  MLE_RETURN_IF_ERROR(increasing_columns(v, what));
  r_.unread = &v;
  return Status::OK();
}

// "all_missing": [[columns], marker, [[method, output], ...]] (docs/FORMAT.md, section 9.7):
// columns strictly increasing in [0, n_features), non-empty; marker null (NaN) or a finite
// number; at least one pair, each naming two distinct graph outputs, each method once.
Status Builder::all_missing(const json::Value& v, const Where& what) {
  if (!v.is_array() || v.size != 3 || !v.at(0)->is_array() || v.at(0)->size == 0 ||
      !(v.at(1)->is_null() || v.at(1)->is_number()) || !v.at(2)->is_array() ||
      v.at(2)->size == 0)
    return Status::Format(what.str() + " must be [[columns], missing value or null, "
                          "[[method, output], ...]]");
  MLE_RETURN_IF_ERROR(increasing_columns(*v.at(0), what));
  if (v.at(1)->is_number() && !std::isfinite(v.at(1)->number))
    return Status::Format(what.str() + ": the missing value must be finite");
  std::vector<std::string> seen;
  for (const json::Value* p = v.at(2)->first(); p; p = p->next_sibling()) {
    if (!p->is_array() || p->size != 2 || !p->at(0)->is_string() || !p->at(1)->is_string() ||
        find_output(p->at(0)->str) < 0 || find_output(p->at(1)->str) < 0 ||
        p->at(0)->str == p->at(1)->str)
      return Status::Format(what.str() + ": each pair must name a method's output and another "
                            "graph output");
    for (const std::string& s : seen)
      if (s == p->at(0)->str) return Status::Format(what.str() + ": a method is paired twice");
    seen.emplace_back(p->at(0)->str);
  }
  r_.all_missing = &v;
  return Status::OK();
}

// The label inputs (docs/FORMAT.md, section 9.7), key v.key:
//   "target": [k, mode]: the input is one column of labels of set k, mode "error" or "ignore";
//   "sets": k: the input is a list of label sets, each an indicator row over set k;
//   "dicts": [[names], separator]: the input is a list of mappings, named features;
//   "new_missing": [columns]: NaN in these columns is refused (strictly increasing, non-empty);
//   "hashed": [input_type, alternate_sign, dtype]: the input is a list of samples of features whose
//             names are hashed into the n_features columns (FeatureHasher).
Status Builder::label_input(const json::Value& v, const Where& what) {
  const int64_t n_sets = static_cast<int64_t>(r_.labels.size());
  if (v.key == "target") {
    if (!v.is_array() || (v.size != 2 && v.size != 3) || !v.at(0)->is_number() ||
        !v.at(0)->is_int || !v.at(1)->is_string() ||
        (v.at(1)->str != "error" && v.at(1)->str != "ignore"))
      return Status::Format(what.str() + " must be [label set, \"error\" or \"ignore\"] or "
                            "[label set, \"ignore\", output]");
    if (v.size == 3 && (v.at(1)->str != "ignore" || !v.at(2)->is_string() ||
                        find_output(v.at(2)->str) < 0))
      return Status::Format(what.str() + ": its third entry must name a graph output (with "
                            "\"ignore\")");
    if (v.at(0)->integer < 0 || v.at(0)->integer >= n_sets || n_features_ != 1)
      return Status::Format(what.str() + ": the label set must exist and the graph have one "
                            "feature");
    r_.target = &v;
  } else if (v.key == "sets") {
    if (!v.is_number() || !v.is_int || v.integer < 0 || v.integer >= n_sets ||
        r_.labels[static_cast<size_t>(v.integer)].values->size != n_features_)
      return Status::Format(what.str() + " must be a label set of n_features labels");
    r_.sets = &v;
  } else if (v.key == "dicts") {
    if (!v.is_array() || v.size != 2 || !v.at(0)->is_array() || !v.at(1)->is_string() ||
        v.at(0)->size != n_features_ || v.at(1)->str.size() > 256)
      return Status::Format(what.str() + " must be [[n_features names], separator]");
    for (const json::Value* c = v.at(0)->first(); c; c = c->next_sibling())
      if (!c->is_string()) return Status::Format(what.str() + ": names must be strings");
    r_.dicts = &v;
  } else if (v.key == "hashed") {
    if (!v.is_array() || v.size != 3 || !v.at(0)->is_string() ||
        (v.at(0)->str != "dict" && v.at(0)->str != "pair" && v.at(0)->str != "string") ||
        !v.at(1)->is_bool() || !v.at(2)->is_string() ||
        (v.at(2)->str != "float64" && v.at(2)->str != "float32"))
      return Status::Format(what.str() + " must be [\"dict\", \"pair\" or \"string\", "
                            "alternate_sign (a boolean), \"float64\" or \"float32\"]");
    r_.hashed = &v;
  } else {  // "new_missing"
    if (!v.is_array() || v.size == 0)
      return Status::Format(what.str() + " must be a non-empty list of columns");
    MLE_RETURN_IF_ERROR(increasing_columns(v, what));
    r_.new_missing = &v;
  }
  return Status::OK();
}

// A per-row tensor shape (neural networks: X of shape (n, *shape)): 1 to 8 positive sizes
// whose product is the value's number of columns.
Status Builder::shape(const json::Value& v, int64_t cols, const Where& what,
                      std::vector<int64_t>* out) {
  out->clear();
  int64_t prod = 1;
  bool ok = v.is_array() && v.size >= 1 && v.size <= 8;
  for (const json::Value* d = ok ? v.first() : nullptr; d && ok; d = d->next_sibling()) {
    ok = d->is_int && d->integer >= 1 && d->integer <= (int64_t(1) << 31);
    if (ok) {
      prod *= d->integer;
      ok = prod <= (int64_t(1) << 31);
      out->push_back(d->integer);
    }
  }
  if (!ok || prod != cols)
    return Status::Format(what.str() + " must be a list of 1 to 8 positive sizes whose product is " +
                          std::to_string(cols) + " (the value's columns)");
  return Status::OK();
}

// Documents as token ids (docs/FORMAT.md, section 9.9): the analyzer's settings and either
// the vocabulary (terms in strictly increasing byte order with their columns, a permutation
// of [0, size)) or the hashing trick's [n_features, alternate_sign].
Status Builder::text(const json::Value& v, const Where& what) {
  auto bad = [&what](const std::string& why) { return Status::Format(what.str() + ": " + why); };
  if (!v.is_object()) return bad("must be an object");
  static const char* const kKeys[] = {"analyzer", "lowercase", "strip_accents", "ngram_range",
                                      "token_pattern", "stop_words", "encoding",
                                      "decode_error", "vocabulary", "hashing"};
  for (const json::Value* m = v.first(); m; m = m->next_sibling()) {
    bool known = false;
    for (const char* k : kKeys) known = known || m->key == k;
    if (!known) return bad("unknown key '" + std::string(m->key) + "'");
  }
  const json::Value* an = v.get("analyzer");
  if (!an || !an->is_string() || (an->str != "word" && an->str != "char" && an->str != "char_wb"))
    return bad("'analyzer' must be \"word\", \"char\" or \"char_wb\"");
  const json::Value* lc = v.get("lowercase");
  if (!lc || !lc->is_bool()) return bad("'lowercase' must be a boolean");
  const json::Value* sa = v.get("strip_accents");
  if (!sa || !(sa->is_null() || (sa->is_string() && (sa->str == "ascii" || sa->str == "unicode"))))
    return bad("'strip_accents' must be null, \"ascii\" or \"unicode\"");
  const json::Value* ng = v.get("ngram_range");
  if (!ng || !ng->is_array() || ng->size != 2 || !ng->at(0)->is_int || !ng->at(1)->is_int ||
      ng->at(0)->integer < 1 || ng->at(0)->integer > ng->at(1)->integer ||
      ng->at(1)->integer > 1024)
    return bad("'ngram_range' must be [min_n, max_n] with 1 <= min_n <= max_n <= 1024");
  const bool word = an->str == "word";
  const json::Value* tp = v.get("token_pattern");
  if (!tp || !(word ? tp->is_string() && !tp->str.empty() && tp->str.size() <= 4096 : tp->is_null()))
    return bad("'token_pattern' must be a pattern string for the word analyzer, else null");
  const json::Value* sw = v.get("stop_words");
  if (!sw || !(sw->is_null() || (word && sw->is_array())))
    return bad("'stop_words' must be null, or a list of strings for the word analyzer");
  if (sw->is_array()) {
    const json::Value* last = nullptr;
    for (const json::Value* e = sw->first(); e; e = e->next_sibling()) {
      if (!e->is_string() || (last && !(last->str < e->str)))
        return bad("'stop_words' must hold strings, sorted without duplicates");
      last = e;
    }
  }
  const json::Value* en = v.get("encoding");
  const json::Value* de = v.get("decode_error");
  bool codec = en && en->is_string() && !en->str.empty() && en->str.size() <= 64;
  for (size_t i = 0; codec && i < en->str.size(); ++i) {
    const char c = en->str[i];
    codec = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_';
  }
  if (!codec || !de || !de->is_string() ||
      (de->str != "strict" && de->str != "ignore" && de->str != "replace"))
    return bad("'encoding' must be a codec name and 'decode_error' \"strict\", \"ignore\" or "
               "\"replace\"");
  const json::Value* voc = v.get("vocabulary");
  const json::Value* hs = v.get("hashing");
  if ((voc != nullptr) == (hs != nullptr)) return bad("needs one of 'vocabulary' and 'hashing'");
  if (voc) {
    if (!voc->is_array() || voc->size != 2 || !voc->at(0)->is_array() || !voc->at(1)->is_array() ||
        voc->at(0)->size != voc->at(1)->size || voc->at(0)->size == 0)
      return bad("'vocabulary' must be [[terms], [columns]] of one column per term");
    const int64_t n = static_cast<int64_t>(voc->at(0)->size);
    const json::Value* last = nullptr;
    for (const json::Value* t = voc->at(0)->first(); t; t = t->next_sibling()) {
      if (!t->is_string() || (last && !(last->str < t->str)))
        return bad("the vocabulary's terms must be strings, sorted without duplicates");
      last = t;
    }
    std::vector<char> seen(static_cast<size_t>(n), 0);
    for (const json::Value* c = voc->at(1)->first(); c; c = c->next_sibling()) {
      if (!c->is_int || c->integer < 0 || c->integer >= n || seen[static_cast<size_t>(c->integer)])
        return bad("the vocabulary's columns must be a permutation of [0, " + std::to_string(n) +
                   ")");
      seen[static_cast<size_t>(c->integer)] = 1;
    }
  } else if (!hs->is_array() || hs->size != 2 || !hs->at(0)->is_int || hs->at(0)->integer < 1 ||
             hs->at(0)->integer > (int64_t(1) << 31) - 1 || !hs->at(1)->is_bool()) {
    return bad("'hashing' must be [n_features in [1, 2^31 - 1], alternate_sign]");
  }
  r_.text = &v;
  return Status::OK();
}

Status Builder::from_graph(const json::Value& g) {
  if (const json::Value* et = g.get("estimator_type"))
    MLE_RETURN_IF_ERROR(estimator_type(*et, "graph section: 'estimator_type'"));
  if (const json::Value* ls = g.get("labels")) {
    if (!ls->is_array())
      return Status::Format("graph section: 'labels' must be a list of [dtype, labels]");
    size_t i = 0;
    for (const json::Value* e = ls->first(); e; e = e->next_sibling(), ++i) {
      const Where what({"graph section: label set "}, static_cast<int64_t>(i));
      if (!e->is_array() || e->size != 2)
        return Status::Format(what.str() + ": must be [dtype, labels]");
      MLE_RETURN_IF_ERROR(label_set(e->at(0), e->at(1), what));
    }
  }
  const json::Value* os = g.get("outputs");  // checked by the plan builder
  size_t i = 0;
  for (const json::Value* o = os->first(); o; o = o->next_sibling(), ++i)
    if (o->size == 3 && o->at(2)->is_object())
      MLE_RETURN_IF_ERROR(output_opts(static_cast<int>(i), *o->at(2),
                                      Where{{"graph output '", outputs_[i].name, "'"}}));
  if (const json::Value* kw = g.get("keywords"))
    MLE_RETURN_IF_ERROR(keywords(*kw, "graph section: 'keywords'"));
  if (const json::Value* in = g.get("inputs")) {
    if (!in->is_object()) return Status::Format("graph section: 'inputs' must be an object");
    for (const json::Value* m = in->first(); m; m = m->next_sibling()) {
      const Where what{{"graph section: inputs '", m->key, "'"}};
      if (m->key == "feature_names") {
        MLE_RETURN_IF_ERROR(feature_names(*m, what));
      } else if (m->key == "integer") {
        MLE_RETURN_IF_ERROR(integer(*m, what));
      } else if (m->key == "categories") {
        MLE_RETURN_IF_ERROR(categories(*m, what));
      } else if (m->key == "unseen") {
        MLE_RETURN_IF_ERROR(unseen(*m, what));
      } else if (m->key == "vector") {
        const json::Value* nf = g.get("n_features");
        if (!m->is_bool() || !m->boolean || !nf || !nf->is_number() || nf->number != 1)
          return Status::Format(what.str() + " must be true, and only for a graph of one "
                                "feature (1-D input is that column)");
        r_.vector = true;
      } else if (m->key == "strings") {
        MLE_RETURN_IF_ERROR(strings(*m, what));
      } else if (m->key == "unknown") {
        MLE_RETURN_IF_ERROR(unknown(*m, what));
      } else if (m->key == "nan") {
        MLE_RETURN_IF_ERROR(nan(*m, what));
      } else if (m->key == "shape") {
        MLE_RETURN_IF_ERROR(shape(*m, n_features_, what, &r_.shape));
      } else if (m->key == "unread") {
        MLE_RETURN_IF_ERROR(unread(*m, what));
      } else if (m->key == "target" || m->key == "sets" || m->key == "dicts" ||
                 m->key == "new_missing" || m->key == "hashed") {
        MLE_RETURN_IF_ERROR(label_input(*m, what));
      } else if (m->key == "text") {
        MLE_RETURN_IF_ERROR(text(*m, what));
      } else if (m->key == "all_missing") {
        MLE_RETURN_IF_ERROR(all_missing(*m, what));
      } else {
        return Status::Format("graph section: unknown 'inputs' key '" + std::string(m->key) +
                              "' (known: feature_names, integer, categories, unseen, vector, "
                              "strings, unknown, nan, shape, unread, target, sets, dicts, "
                              "new_missing, hashed, text, all_missing)");
      }
    }
    if (r_.unseen_error && !r_.categories)
      return Status::Format("graph section: inputs 'unseen' needs 'categories'");
  }
  return Status::OK();
}

// Files before format 1.3: the same records from the metadata keys (docs/FORMAT.md, section
// 12). Entries naming outputs the graph lacks had no effect then and are skipped.
Status Builder::from_metadata(const json::Value& meta) {
  const json::Value* et = meta.get("estimator_type");
  if (et && !et->is_null()) MLE_RETURN_IF_ERROR(estimator_type(*et, "metadata 'estimator_type'"));
  const json::Value* classes = meta.get("classes");
  if (classes && !classes->is_null()) {
    const bool multi = classes->is_array();
    if (!multi && !classes->is_object())
      return Status::Format("metadata 'classes' must be an object or a list of objects");
    if (multi && classes->size == 0)
      return Status::Format("metadata 'classes' must not be an empty list");
    size_t i = 0;
    for (const json::Value* c = multi ? classes->first() : classes; c;
         c = multi ? c->next_sibling() : nullptr, ++i) {
      const Where what = multi ? Where({"metadata 'classes' entry "}, static_cast<int64_t>(i))
                               : Where("metadata 'classes'");
      if (!c->is_object()) return Status::Format(what.str() + " must be an object");
      MLE_RETURN_IF_ERROR(label_set(c->get("dtype"), c->get("values"), what));
    }
    const int predict = find_output("predict");
    if (r_.estimator_type == "classifier" && predict >= 0) {
      OutputRule& o = r_.outputs[predict];
      o.has_labels = true;
      o.labels_list = multi;
      for (size_t k = 0; k < r_.labels.size(); ++k) o.labels.push_back(static_cast<int64_t>(k));
    }
  } else if (r_.estimator_type == "classifier" && find_output("predict") >= 0) {
    return Status::Format("the metadata says the model is a classifier but has no 'classes'; "
                          "the file is damaged");
  }
  if (const json::Value* d = meta.get("output_dtypes"); d && !d->is_null()) {
    if (!d->is_object())
      return Status::Format("metadata 'output_dtypes' must map outputs to dtype names");
    for (const json::Value* m = d->first(); m; m = m->next_sibling()) {
      const int out = find_output(m->key);
      const Where what{{"metadata 'output_dtypes' entry '", m->key, "'"}};
      if (out >= 0) {
        MLE_RETURN_IF_ERROR(output_dtype(out, *m, what));
      } else if (!m->is_string() || !one_of(m->str, kOutputDtypes)) {
        return Status::Format(what.str() + " must be one of " + list_of(kOutputDtypes));
      }
    }
  }
  if (const json::Value* c = meta.get("column_outputs"); c && !c->is_null()) {
    if (!c->is_array())
      return Status::Format("metadata 'column_outputs' must be a list of output names");
    for (const json::Value* n = c->first(); n; n = n->next_sibling()) {
      if (!n->is_string())
        return Status::Format("metadata 'column_outputs' must be a list of output names");
      const int out = find_output(n->str);
      if (out >= 0) r_.outputs[out].column = true;
    }
  }
  if (const json::Value* s = meta.get("output_splits"); s && !s->is_null()) {
    if (!s->is_object())
      return Status::Format("metadata 'output_splits' must map outputs to column counts");
    for (const json::Value* m = s->first(); m; m = m->next_sibling()) {
      const int out = find_output(m->key);
      if (out >= 0)
        MLE_RETURN_IF_ERROR(splits(out, *m, Where{{"metadata 'output_splits' entry '", m->key,
                                                   "'"}}));
    }
  }
  if (const json::Value* kw = meta.get("keyword_outputs"); kw && !kw->is_null())
    MLE_RETURN_IF_ERROR(keywords(*kw, "metadata 'keyword_outputs'"));
  if (const json::Value* f = meta.get("feature_names_in"); f && !f->is_null())
    MLE_RETURN_IF_ERROR(feature_names(*f, "metadata 'feature_names_in'"));
  if (const json::Value* ii = meta.get("integer_input"); ii && !ii->is_null())
    MLE_RETURN_IF_ERROR(integer(*ii, "metadata 'integer_input'"));
  if (const json::Value* pc = meta.get("pandas_categories"); pc && !pc->is_null()) {
    MLE_RETURN_IF_ERROR(categories(*pc, "metadata 'pandas_categories'"));
    if (const json::Value* u = meta.get("pandas_unseen"); u && !u->is_null())
      MLE_RETURN_IF_ERROR(unseen(*u, "metadata 'pandas_unseen'"));
  }
  return Status::OK();
}

Status Builder::check() {
  // String labels: the dtype's width comes from the labels (one width for all the model's
  // label sets, as multi-output classifiers share one array dtype).
  int64_t longest = 0;
  for (const LabelSet& ls : r_.labels) longest = std::max(longest, ls.longest);
  const int64_t limit = std::max(longest, kPadChars);
  for (size_t i = 0; i < r_.labels.size(); ++i)
    if (r_.labels[i].kind == 'U' && r_.labels[i].size > limit)
      return Status::Format("label set " + std::to_string(i) + ": dtype '" + r_.labels[i].dtype +
                            "' holds " + std::to_string(r_.labels[i].size) +
                            " characters per label, but the longest label has " +
                            std::to_string(longest) + "; at most " + std::to_string(limit) +
                            " are accepted");
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const OutputRule& o = r_.outputs[i];
    if (!o.has_labels && !o.has_splits && !o.column && o.block_dtypes.empty() &&
        o.flat_blocks.empty() && o.sparse_columns == 0)
      continue;
    const PlanOutput& po = outputs_[i];
    const ValueInfo& vi = values_[po.value];
    const Where what{{"graph output '", po.name, "'"}};
    if (o.has_labels) {
      if (!o.labels_list ? vi.cols != 1 : static_cast<int64_t>(o.labels.size()) != vi.cols)
        return Status::Format(
            what.str() + ": it has " + std::to_string(vi.cols) + " column(s) but " +
            std::to_string(o.labels_list ? o.labels.size() : 1) +
            " label set(s); a classifier's predict needs one label set per column");
      if (o.labels_list && po.ravel)
        return Status::Format(what.str() + ": a list of label sets (one per column) needs a 2-D "
                              "output, but it is ravelled");
      if (vi.index_bound <= 0 && !vi.index_bounds)
        return Status::Format(what.str() + ": 'labels' needs an output of class indices (ArgMax or "
                              "SegmentArgMax), but its value is not one");
      for (size_t c = 0; c < o.labels.size(); ++c) {
        const int64_t k = o.labels[c];
        if (k < 0 || k >= static_cast<int64_t>(r_.labels.size()))
          return Status::Format(what.str() + ": label set " + std::to_string(k) + " does not exist (" +
                                std::to_string(r_.labels.size()) + " label sets)");
        const int64_t bound = vi.index_bounds ? vi.index_bounds[c] : vi.index_bound;
        const int64_t have = static_cast<int64_t>(r_.labels[k].values->size);
        if (bound > have)
          return Status::Format(what.str() + ": column " + std::to_string(c) + " gives class indices "
                                "0.." + std::to_string(bound - 1) + " but label set " +
                                std::to_string(k) + " has " + std::to_string(have) +
                                " labels; the labels have the wrong length");
      }
    }
    if (o.has_splits) {
      if (o.has_labels || o.column)
        return Status::Format(what.str() + ": 'splits' cannot be combined with 'labels' or "
                              "'column' (a list of blocks is neither labels nor a column)");
      int64_t total = 0;
      for (int64_t n : o.splits) total += n;
      if (po.ravel || total != vi.cols)
        return Status::Format(what.str() + ": 'splits' sum to " + std::to_string(total) +
                              " columns, but the output has " + std::to_string(vi.cols) +
                              (po.ravel ? " and is ravelled" : ""));
    }
    if (!o.block_dtypes.empty() &&
        (!o.has_splits || o.block_dtypes.size() != o.splits.size() || !o.dtype.empty()))
      return Status::Format(what.str() + ": 'block_dtypes' needs 'splits' with one dtype per "
                            "block, and no 'dtype'");
    if (!o.flat_blocks.empty()) {
      if (!o.has_splits || o.flat_blocks.size() != o.splits.size())
        return Status::Format(what.str() + ": 'flat_blocks' needs 'splits' with one flag per "
                              "block");
      for (size_t b = 0; b < o.splits.size(); ++b)
        if (o.flat_blocks[b] && o.splits[b] != 1)
          return Status::Format(what.str() + ": 'flat_blocks' flags block " +
                                std::to_string(b) + ", which has " +
                                std::to_string(o.splits[b]) + " columns (a flat block has one)");
    }
    if (o.sparse_columns != 0 &&
        (!o.has_splits || o.splits.size() != 2 || o.splits[0] != o.splits[1] ||
         o.block_dtypes.size() != 2 || o.block_dtypes[0] != "float64" ||
         o.block_dtypes[1] != "int64" || !o.flat_blocks.empty() || o.columns))
      return Status::Format(what.str() + ": 'sparse' needs 'splits' of two equal blocks "
                            "(values, column indices) with 'block_dtypes' [\"float64\", "
                            "\"int64\"], and no 'flat_blocks' or 'columns'");
    if (o.column && vi.cols != 1)
      return Status::Format(what.str() + ": 'column' needs a one-column output, it has " +
                            std::to_string(vi.cols));
  }
  if (r_.categories) {
    if (!r_.feature_names)
      return Status::Format("input categories need the feature names they refer to");
    std::set<std::string_view> names;
    for (const json::Value* n = r_.feature_names->first(); n; n = n->next_sibling())
      names.insert(n->str);
    for (const json::Value* m = r_.categories->first(); m; m = m->next_sibling())
      if (!names.count(m->key))
        return Status::Format("input categories name column '" + std::string(m->key) +
                              "', which is not among the feature names");
  }
  return Status::OK();
}

std::string Builder::canonical(std::string_view graph_text) const {
  std::string o = "{";
  o.reserve(256);
  auto sep = [&o] {
    if (o.size() > 1) o.push_back(',');
  };
  if (!r_.estimator_type.empty()) {
    o += "\"estimator_type\":";
    put_string(&o, r_.estimator_type);
  }
  if (!r_.labels.empty()) {
    sep();
    o += "\"labels\":[";
    for (size_t i = 0; i < r_.labels.size(); ++i) {
      o += i ? ",[" : "[";
      put_string(&o, r_.labels[i].dtype);
      o.push_back(',');
      put_scalars(&o, *r_.labels[i].values);
      o.push_back(']');
    }
    o.push_back(']');
  }
  std::string outs;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const OutputRule& r = r_.outputs[i];
    const bool reads_y = outputs_[i].root == 1;
    if (!r.has_labels && !r.has_splits && r.dtype.empty() && !r.column && r.shape.empty() &&
        !reads_y && !r.columns && r.block_dtypes.empty() && r.flat_blocks.empty() &&
        r.sparse_columns == 0)
      continue;
    std::string e;
    auto field = [&e](const char* k) {
      if (!e.empty()) e.push_back(',');
      e.push_back('"');
      e.append(k);
      e.append("\":");
    };
    if (r.has_labels) {
      field("labels");
      if (r.labels_list) put_ints(&e, r.labels); else e += std::to_string(r.labels[0]);
    }
    if (r.has_splits) { field("splits"); put_ints(&e, r.splits); }
    if (!r.dtype.empty()) { field("dtype"); put_string(&e, r.dtype); }
    if (r.column) { field("column"); e += "true"; }
    if (!r.shape.empty()) { field("shape"); put_ints(&e, r.shape); }
    if (!r.block_dtypes.empty()) {
      field("block_dtypes");
      e.push_back('[');
      for (size_t b = 0; b < r.block_dtypes.size(); ++b) {
        if (b) e.push_back(',');
        put_string(&e, r.block_dtypes[b]);
      }
      e.push_back(']');
    }
    if (!r.flat_blocks.empty()) {
      field("flat_blocks");
      e.push_back('[');
      for (size_t b = 0; b < r.flat_blocks.size(); ++b) {
        if (b) e.push_back(',');
        e += r.flat_blocks[b] ? "true" : "false";
      }
      e.push_back(']');
    }
    if (r.sparse_columns != 0) {
      field("sparse");
      e += "[" + std::to_string(r.sparse_columns) + (r.sparse_ones ? ",\"ones\"]" : ",\"values\"]");
    }
    if (reads_y) { field("input"); e += "\"Y\""; }
    if (r.columns) { field("columns"); put_plain(&e, *r.columns); }
    if (!r.container.empty()) { field("container"); put_string(&e, r.container); }
    if (!outs.empty()) outs.push_back(',');
    put_string(&outs, outputs_[i].name);
    outs.append(":{").append(e).push_back('}');
  }
  if (!outs.empty()) {
    sep();
    o.append("\"outputs\":{").append(outs).push_back('}');
  }
  if (!r_.keywords.empty()) {
    sep();
    o += "\"keywords\":[";
    for (size_t i = 0; i < r_.keywords.size(); ++i) {
      const Keyword& k = r_.keywords[i];
      o += i ? ",[" : "[";
      put_string(&o, k.method);
      o.push_back(',');
      put_string(&o, k.keyword);
      o.push_back(',');
      put_scalar(&o, *k.value);
      o.push_back(',');
      put_string(&o, k.output);
      o.push_back(']');
    }
    o.push_back(']');
  }
  std::string in;
  auto ifield = [&in](const char* k) {
    if (!in.empty()) in.push_back(',');
    in.push_back('"');
    in.append(k);
    in.append("\":");
  };
  if (r_.feature_names) {
    ifield("feature_names");
    put_scalars(&in, *r_.feature_names);
  }
  if (r_.has_integer) {
    ifield("integer");
    in += std::string("{\"keep\":") + (r_.keep ? "true" : "false") + ",\"fill_dtypes\":[";
    for (size_t i = 0; i < r_.fill_dtypes.size(); ++i) {
      if (i) in.push_back(',');
      put_string(&in, r_.fill_dtypes[i]);
    }
    in += "]}";
  }
  if (r_.categories) {
    ifield("categories");
    in.push_back('{');
    for (const json::Value* m = r_.categories->first(); m; m = m->next_sibling()) {
      if (m != r_.categories->first()) in.push_back(',');
      put_string(&in, m->key);
      in.push_back(':');
      if (m->is_null()) in += "null"; else put_scalars(&in, *m);
    }
    in.push_back('}');
  }
  if (r_.unseen_error) {
    ifield("unseen");
    in += "\"error\"";
  }
  if (r_.vector) {
    ifield("vector");
    in += "true";
  }
  if (r_.strings) {
    ifield("strings");
    put_plain(&in, *r_.strings);
  }
  if (r_.unknown) {
    ifield("unknown");
    put_plain(&in, *r_.unknown);
  }
  if (r_.nan) {
    ifield("nan");
    put_plain(&in, *r_.nan);
  }
  if (!r_.shape.empty()) {
    ifield("shape");
    put_ints(&in, r_.shape);
  }
  if (r_.unread) {
    ifield("unread");
    put_plain(&in, *r_.unread);
  }
  for (const json::Value* li :
       {r_.target, r_.sets, r_.dicts, r_.new_missing, r_.hashed, r_.all_missing})
    if (li) {
      ifield(std::string(li->key).c_str());
      put_plain(&in, *li);
    }
  if (r_.text) {
    const json::Value& t = *r_.text;
    ifield("text");
    in += "{\"analyzer\":";
    put_string(&in, t.get("analyzer")->str);
    in += std::string(",\"lowercase\":") + (t.get("lowercase")->boolean ? "true" : "false");
    in += ",\"strip_accents\":";
    put_plain(&in, *t.get("strip_accents"));
    in += ",\"ngram_range\":";
    put_plain(&in, *t.get("ngram_range"));
    in += ",\"token_pattern\":";
    put_plain(&in, *t.get("token_pattern"));
    in += ",\"stop_words\":";
    put_plain(&in, *t.get("stop_words"));
    in += ",\"encoding\":";
    put_string(&in, t.get("encoding")->str);
    in += ",\"decode_error\":";
    put_string(&in, t.get("decode_error")->str);
    if (const json::Value* voc = t.get("vocabulary")) {
      in += ",\"vocabulary\":";
      const std::string_view raw = canonical_vocabulary(*voc, graph_text);
      if (!raw.empty()) in.append(raw); else put_plain(&in, *voc);
    } else {
      const json::Value* hs = t.get("hashing");
      in += ",\"hashing\":[" + std::to_string(hs->at(0)->integer) +
            (hs->at(1)->boolean ? ",true]" : ",false]");
    }
    in.push_back('}');
  }
  if (!in.empty()) {
    sep();
    o.reserve(o.size() + in.size() + 12);
    o.append("\"inputs\":{").append(in).push_back('}');
  }
  o.push_back('}');
  return o;
}

}  // namespace

Status build_rules(const json::Value& graph, const json::Value& meta, uint16_t minor,
                   const std::vector<PlanOutput>& outputs, const std::vector<ValueInfo>& values,
                   int64_t n_features, std::string* canonical, std::string_view graph_text) {
  Builder b(outputs, values, n_features);
  if (minor >= kMinorRules) {
    MLE_RETURN_IF_ERROR(b.from_graph(graph));
  } else {
    for (const char* key : {"estimator_type", "labels", "keywords", "inputs"})
      if (graph.get(key))
        return Status::Format("graph section: '" + std::string(key) + "' needs format 1." +
                              std::to_string(kMinorRules) + " or newer, but the file says 1." +
                              std::to_string(minor));
    for (const json::Value* o = graph.get("outputs")->first(); o; o = o->next_sibling())
      if (o->size == 3 && o->at(2)->is_object())
        return Status::Format("graph section: output options need format 1." +
                              std::to_string(kMinorRules) + " or newer, but the file says 1." +
                              std::to_string(minor));
    MLE_RETURN_IF_ERROR(b.from_metadata(meta));
  }
  MLE_RETURN_IF_ERROR(b.check());
  *canonical = b.canonical(graph_text);
  return Status::OK();
}

}  // namespace mle
