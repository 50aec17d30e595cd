// Prediction rules: what a loaded model's methods return beyond the raw output arrays (class
// labels, output dtypes and shapes, keyword aliases, input rules). They live in the graph
// section (format 1.3, docs/FORMAT.md section 9) or, in older files, in the metadata keys that
// section 12 maps onto the same records. Both are validated here at load, and re-serialised
// as one canonical JSON text that the Python proxy reads (docs/FORMAT.md section 9.4).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mle/json.h"
#include "mle/kernel.h"
#include "mle/status.h"

namespace mle {

struct PlanOutput;

// The first format minor version whose graph section carries the rules.
constexpr uint16_t kMinorRules = 3;

// Validates the rules of a graph (`graph`: the graph section's root object; `outputs` and
// `values`: the plan's resolved outputs and value descriptions) and writes their canonical
// JSON to *canonical. For files older than format 1.3 (`minor` < kMinorRules) the rules come
// from `meta` (the metadata section's root object), and the graph may not carry them.
// `graph_text` is the graph section's bytes that `graph` was parsed from (parts of the rules
// already in canonical form there are copied rather than written again), or empty.
Status build_rules(const json::Value& graph, const json::Value& meta, uint16_t minor,
                   const std::vector<PlanOutput>& outputs, const std::vector<ValueInfo>& values,
                   int64_t n_features, std::string* canonical,
                   std::string_view graph_text = {});

}  // namespace mle
