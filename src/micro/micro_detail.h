#pragma once
// Helpers shared by the micro sources (not part of the public API).
#include <torch/types.h>

#include <string>
#include <vector>

namespace emgan::micro::detail {

/// A bool mask from a bool or numeric (non-zero = in) 2D/3D tensor; ConfigError otherwise.
torch::Tensor as_mask(const torch::Tensor& mask, const char* what);

/// ConfigError unless 0 <= axis < t.dim().
void check_axis(const torch::Tensor& t, int64_t axis, const char* what);

/// Names of the axes of a sample with `dims` dimensions: z, y, x (3D) or y, x (2D).
inline std::vector<std::string> axis_names(size_t dims) {
  return dims == 3 ? std::vector<std::string>{"z", "y", "x"} : std::vector<std::string>{"y", "x"};
}

/// Names of the entries of PhaseStats::connectivity: connectivity_z/_y/_x (3D, by the
/// slices' normal) or connectivity (2D).
inline std::vector<std::string> connectivity_names(size_t dims) {
  return dims == 3 ? std::vector<std::string>{"connectivity_z", "connectivity_y", "connectivity_x"}
                   : std::vector<std::string>{"connectivity"};
}

/// Statistics of a spread compared by their absolute difference (they are fractions:
/// fraction, connectivity[_<axis>]); the others by the relative one.
inline bool compared_absolutely(const std::string& name) {
  return name == "fraction" || name.rfind("connectivity", 0) == 0;
}

/// ConfigError unless `labels` is a non-empty 2D/3D integer tensor.
void check_labels(const torch::Tensor& labels, const char* what);

}  // namespace emgan::micro::detail
