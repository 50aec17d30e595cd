// Dump-time tree packing helpers (see mle/pack.h).
#include "mle/pack.h"

#include "mle/trees.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace mle {
namespace pack {

Status tree_order(const int64_t* left, const int64_t* right, const int64_t* offsets,
                  int64_t n_trees, std::vector<int64_t>* order, int64_t* counts) {
  std::vector<int64_t> stack;
  std::vector<uint8_t> seen;
  for (int64_t t = 0; t < n_trees; ++t) {
    const int64_t base = offsets[t];
    const int64_t n = offsets[t + 1] - base;
    seen.assign(static_cast<size_t>(n), 0);
    const size_t start = order->size();
    stack.clear();
    stack.push_back(0);
    while (!stack.empty()) {
      const int64_t i = stack.back();
      stack.pop_back();
      if (i < 0 || i >= n || seen[static_cast<size_t>(i)]) {
        return Status::Unsupported("malformed tree: a child index is invalid or repeated");
      }
      seen[static_cast<size_t>(i)] = 1;
      order->push_back(base + i);
      if (left[base + i] >= 0) {
        stack.push_back(right[base + i]);
        stack.push_back(left[base + i]);
      }
    }
    counts[t] = static_cast<int64_t>(order->size() - start);
  }
  return Status::OK();
}

Status pack_nodes(const NodeFields& f, const int64_t* offsets, int64_t n_trees,
                  const int64_t* order, const int64_t* counts, int64_t n_fields,
                  int64_t n_features, bool wide, uint8_t* records, int64_t* leaf_nodes,
                  int64_t* n_leaves) {
  using trees::Node32;
  using trees::Node64;
  // tree-relative position of each reached node
  std::vector<uint32_t> pos(static_cast<size_t>(n_fields), 0);
  int64_t r = 0;
  for (int64_t t = 0; t < n_trees; ++t) {
    for (int64_t j = 0; j < counts[t]; ++j, ++r) {
      const int64_t g = order[r];
      if (g < offsets[t] || g >= offsets[t + 1]) {
        return Status::Internal("pack_nodes: a node of the order lies outside its tree");
      }
      pos[static_cast<size_t>(g)] = static_cast<uint32_t>(j);
    }
  }
  int64_t leaves = 0;
  r = 0;
  for (int64_t t = 0; t < n_trees; ++t) {
    const int64_t base = offsets[t];
    for (int64_t j = 0; j < counts[t]; ++j, ++r) {
      const int64_t g = order[r];
      const bool leaf = f.left[g] < 0;
      uint32_t flags = 0, right = 0;
      double thr64 = 0.0;
      float thr32 = 0.0f;
      uint64_t cat_bits = 0;
      bool cat = false;
      if (leaf) {
        flags = trees::kLeaf;
        right = static_cast<uint32_t>(leaves);
        leaf_nodes[leaves++] = g;
      } else {
        const int64_t feat = f.feature[g];
        if (feat < 0 || feat >= n_features) {
          return Status::Unsupported("a tree splits on a feature index outside the input");
        }
        flags = static_cast<uint32_t>(feat);
        if (f.missing) flags |= static_cast<uint32_t>(f.missing[g]) << trees::kMissingShift;
        if (f.default_left && f.default_left[g]) flags |= trees::kDefaultLeft;
        cat = f.categorical && f.categorical[g];
        const int64_t child = f.right[g];
        if (child < 0 || child >= offsets[t + 1] - base) {
          return Status::Unsupported("malformed tree: a child index is invalid or repeated");
        }
        right = pos[static_cast<size_t>(base + child)];
        if (cat) {
          flags |= trees::kCategorical;
          const int64_t known = f.cat_known ? f.cat_known[g] : -1;
          if (wide) {
            const uint64_t k = known < 0 ? 0xFFFFFFFFull : static_cast<uint64_t>(known);
            cat_bits = (k << 32) | static_cast<uint64_t>(f.cat_left[g]);
          } else {
            if (known >= 0) {
              return Status::Unsupported("known-category sets need float64 node records");
            }
            cat_bits = static_cast<uint32_t>(static_cast<uint64_t>(f.cat_left[g]));
          }
        } else if (wide) {
          thr64 = f.threshold64[g];
        } else {
          thr32 = f.threshold32[g];
        }
      }
      if (wide) {
        Node64 n;
        if (cat) {
          std::memcpy(&n.threshold, &cat_bits, sizeof cat_bits);
        } else {
          n.threshold = thr64;
        }
        n.feature_flags = flags;
        n.right = right;
        std::memcpy(records + r * sizeof(Node64), &n, sizeof n);
      } else {
        Node32 n;
        if (cat) {
          const uint32_t b = static_cast<uint32_t>(cat_bits);
          std::memcpy(&n.threshold, &b, sizeof b);
        } else {
          n.threshold = thr32;
        }
        n.feature_flags = flags;
        n.right = right;
        std::memcpy(records + r * sizeof(Node32), &n, sizeof n);
      }
    }
  }
  *n_leaves = leaves;
  return Status::OK();
}

namespace {

// numpy's order of float64 values in a sort: ascending, NaN last (-1, 0, 1).
inline int compare_value(double a, double b) {
  if (a < b) return -1;
  if (a > b) return 1;
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na != nb) return na ? 1 : -1;
  return 0;
}

inline uint64_t bits_of(double v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

inline uint64_t mix(uint64_t h) {  // splitmix64 finaliser
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

}  // namespace

Status unique_rows(const double* rows, int64_t n, int64_t k, std::vector<int64_t>* first,
                   int64_t* inverse) {
  first->clear();
  if (n <= 0) return Status::OK();
  if (k < 1) return Status::Internal("unique_rows: rows need at least one column");
  const size_t width = static_cast<size_t>(k) * sizeof(double);
  size_t cap = 16;
  while (cap < static_cast<size_t>(n) * 2) cap <<= 1;
  std::vector<int64_t> table(cap, -1);  // index into *first of the distinct row, or -1
  std::vector<int64_t> id(static_cast<size_t>(n));
  const auto* bytes = reinterpret_cast<const uint8_t*>(rows);
  for (int64_t i = 0; i < n; ++i) {
    const double* r = rows + i * k;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (int64_t j = 0; j < k; ++j) h = mix(h ^ bits_of(r[j]));
    size_t slot = static_cast<size_t>(h) & (cap - 1);
    while (true) {
      const int64_t u = table[slot];
      if (u < 0) {
        table[slot] = static_cast<int64_t>(first->size());
        id[static_cast<size_t>(i)] = static_cast<int64_t>(first->size());
        first->push_back(i);
        break;
      }
      if (std::memcmp(bytes + static_cast<size_t>((*first)[static_cast<size_t>(u)]) * width,
                      bytes + static_cast<size_t>(i) * width, width) == 0) {
        id[static_cast<size_t>(i)] = u;
        break;
      }
      slot = (slot + 1) & (cap - 1);
    }
  }
  // Sort the distinct rows by value (rows equal by value but not by bits: by bits).
  const size_t u = first->size();
  std::vector<int64_t> by(u);
  for (size_t i = 0; i < u; ++i) by[i] = static_cast<int64_t>(i);
  std::sort(by.begin(), by.end(), [&](int64_t a, int64_t b) {
    const double* ra = rows + (*first)[static_cast<size_t>(a)] * k;
    const double* rb = rows + (*first)[static_cast<size_t>(b)] * k;
    for (int64_t j = 0; j < k; ++j) {
      const int c = compare_value(ra[j], rb[j]);
      if (c) return c < 0;
    }
    for (int64_t j = 0; j < k; ++j) {
      const uint64_t x = bits_of(ra[j]), y = bits_of(rb[j]);
      if (x != y) return x < y;
    }
    return false;
  });
  std::vector<int64_t> rank(u);
  std::vector<int64_t> sorted_first(u);
  for (size_t r = 0; r < u; ++r) {
    rank[static_cast<size_t>(by[r])] = static_cast<int64_t>(r);
    sorted_first[r] = (*first)[static_cast<size_t>(by[r])];
  }
  for (int64_t i = 0; i < n; ++i) inverse[i] = rank[static_cast<size_t>(id[static_cast<size_t>(i)])];
  first->swap(sorted_first);
  return Status::OK();
}

}  // namespace pack
}  // namespace mle
