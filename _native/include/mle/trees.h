// Packed tree-node records: the layout tree-ensemble kernels read straight from the file.
// Both have numpy dtype twins in mle_runtime/format/layout.py.
//
// Trees are stored depth-first (pre-order), one after another; within a tree the left child
// of internal node i is node i + 1 and the right child is node `right` (tree-relative index,
// always > i, which makes every tree acyclic by construction). A leaf has kLeaf set and
// `right` holds its row in the ensemble's leaf-value matrix.
#pragma once
#include <cstdint>

namespace mle {
namespace trees {

// feature_flags: low 24 bits feature index, high 8 bits flags.
constexpr uint32_t kFeatureMask = 0x00FFFFFFu;
constexpr uint32_t kMaxFeatures = kFeatureMask + 1;
constexpr uint32_t kLeaf = 1u << 31;
constexpr uint32_t kDefaultLeft = 1u << 30;  // missing values go left
constexpr uint32_t kCategorical = 1u << 29;  // threshold holds a category-set reference
constexpr uint32_t kMissingShift = 27;       // 2 bits, values below
constexpr uint32_t kMissingMask = 3u << kMissingShift;
constexpr uint32_t kFlagMask = 0xFF000000u;
constexpr uint32_t kKnownFlags = kLeaf | kDefaultLeft | kCategorical | kMissingMask;

// How a node treats a missing value (NaN) before comparing.
enum Missing : uint32_t {
  kMissingNone = 0,   // compare as is (NaN compares false: goes right)
  kMissingNaN = 1,    // NaN takes the default direction (scikit-learn, XGBoost, LightGBM "NaN")
  kMissingZero = 2,   // NaN counts as 0, and |x| <= kZeroThreshold takes the default direction
                      // (LightGBM "Zero": its IsZero)
  kMissingAsZero = 3  // NaN counts as 0, then compared (LightGBM "None")
};

// LightGBM's kZeroThreshold: the float literal 1e-35f widened to double.
constexpr double kZeroThreshold = static_cast<double>(1e-35f);

#pragma pack(push, 1)
// float32 thresholds (scikit-learn trees after exact rounding, XGBoost).
struct Node32 {
  float threshold;         // categorical: index of the category set
  uint32_t feature_flags;  // feature index | flags
  uint32_t right;          // right child (tree-relative), or leaf row for leaves
};
// float64 thresholds (HistGradientBoosting, LightGBM).
struct Node64 {
  double threshold;  // categorical: low 32 bits hold the category-set index
  uint32_t feature_flags;
  uint32_t right;
};
#pragma pack(pop)

static_assert(sizeof(Node32) == 12, "Node32 must be 12 bytes");

// Which tree walk the TreeEnsemble kernel uses, for tests that compare every fast walk with
// the scalar reference (find_leaf). kAuto: chosen per block by the kernel; the others force
// one walk wherever the model allows it (elsewhere the reference runs). Process-wide.
enum class Walk : int {
  kAuto = 0,
  kReference = 1,  // one row, one tree, one node at a time (the reference)
  kLanes = 2,      // AVX2 gathers, 32 rows of one tree at once
  kRows = 3,       // scalar, several rows of one tree advanced together
  kTrees = 4,      // scalar, several trees of one row advanced together
};
Walk walk_override();
void set_walk_override(Walk w);
inline int walk_code() { return static_cast<int>(walk_override()); }
inline void set_walk_code(int w) { set_walk_override(static_cast<Walk>(w)); }
static_assert(sizeof(Node64) == 16, "Node64 must be 16 bytes");

}  // namespace trees
}  // namespace mle
