// Numbers out of "key=v1 v2 ..." lines (see mle/textcols.h).
#include "mle/textcols.h"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>

namespace mle {
namespace textcols {

Status read(const char* text, size_t size, const std::vector<std::string>& keys,
            std::vector<Column>* columns) {
  columns->assign(keys.size(), Column());
  const char* p = text;
  const char* end = text + size;
  int64_t line = 0;
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!eol) eol = end;
    const char* stop = (eol > p && eol[-1] == '\r') ? eol - 1 : eol;
    const char* eq = static_cast<const char*>(std::memchr(p, '=', static_cast<size_t>(stop - p)));
    if (eq) {
      const size_t klen = static_cast<size_t>(eq - p);
      for (size_t j = 0; j < keys.size(); ++j) {
        if (keys[j].size() != klen || std::memcmp(keys[j].data(), p, klen) != 0) continue;
        Column& c = (*columns)[j];
        int64_t n = 0;
        const char* q = eq + 1;
        while (q < stop) {
          while (q < stop && (*q == ' ' || *q == '\t')) ++q;
          if (q >= stop) break;
          const char* tok = q;
          while (q < stop && *q != ' ' && *q != '\t') ++q;
          double v = 0.0;
          const char* s = tok;
          if (*s == '+') ++s;  // from_chars takes no leading '+'
          auto res = std::from_chars(s, q, v);
          if (res.ec != std::errc() || res.ptr != q) {
            return Status::Format("line " + std::to_string(line + 1) + ": '" + keys[j] +
                                  "' holds a value that is not a number: '" +
                                  std::string(tok, static_cast<size_t>(std::min<std::ptrdiff_t>(q - tok, 40))) + "'");
          }
          c.values.push_back(v);
          ++n;
        }
        c.counts.push_back(n);
        c.lines.push_back(line);
        break;
      }
    }
    p = eol + 1;
    ++line;
  }
  return Status::OK();
}

}  // namespace textcols
}  // namespace mle
