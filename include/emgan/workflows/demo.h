#pragma once
/// \file demo.h
/// `emgan demo`: the first thing to run. Makes its own small data set of synthetic
/// convolution/multislice pairs (sim/synthetic.h), cross-validates the polynomial
/// baseline and a small pix2pix on it for a few minutes on the CPU, runs the
/// polynomial baseline on the real pairs of ../shared/data when they are present,
/// and writes one report gathering everything.
#include <string>

#include "emgan/core/config.h"
#include "emgan/core/runtime.h"

namespace emgan::workflows {

struct DemoSettings {
  std::string out = "runs/demo";  ///< run directory
  int64_t pairs = 12;             ///< synthetic pairs generated
  int64_t size_min = 64;          ///< smallest side of a synthetic image, px
  int64_t size_max = 96;          ///< largest side, px (sizes vary, as real data does)
  int64_t folds = 3;              ///< cross-validation folds
  int64_t epochs = 30;            ///< pix2pix epochs per fold
  /// Real pairs cross-validated with the polynomial model when the folder exists
  /// ("" = skip).
  std::string real_data = "../shared/data/stem-conv2multislice";
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DemoSettings, out, pairs, size_min, size_max, folds, epochs,
                                                real_data, runtime)

/// Runs the demo; returns the path of its index.html.
std::string run_demo(const DemoSettings& settings);

/// Writes `n` synthetic pairs under `dir`/synthetic/{synthetic_convolution,
/// synthetic_multislice} with the naming of the real data (text inputs, float32
/// TIFF targets), sizes drawn in [size_min, size_max] from `seed`.
void write_synthetic_pairs(const std::string& dir, int64_t n, int64_t size_min, int64_t size_max, uint64_t seed);

}  // namespace emgan::workflows
