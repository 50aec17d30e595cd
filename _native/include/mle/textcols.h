// Reading numbers out of "key=v1 v2 ..." text lines (dump time: model texts some frameworks
// write, read by their exporters), one column per key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mle/status.h"

namespace mle {
namespace textcols {

struct Column {
  std::vector<double> values;  // every number of every line with this key, in order
  std::vector<int64_t> counts;  // numbers per line
  std::vector<int64_t> lines;   // line number (0-based) of each such line
};

// Scans `text` line by line (\n or \r\n); a line "key=..." whose key is keys[j] appends its
// space-separated numbers (decimal, exponent, inf, nan; parsed exactly, as strtod) to
// (*columns)[j]. Other lines are skipped. A value that is not a number is a Format status
// naming the key and line.
Status read(const char* text, size_t size, const std::vector<std::string>& keys,
            std::vector<Column>* columns);

}  // namespace textcols
}  // namespace mle
