#pragma once
/// \file analysis.h
/// Particle size distributions (step 6 of the pipeline, `emgan segment analyze`):
/// masks (given, predicted by a segmenter, or the built-in rough segmentation) are
/// split into particles (distance transform + watershed), each particle is measured
/// (area, equivalent diameter, ellipticity) in nm when the image file carries a pixel
/// size (else in pixels, said so), and the PSD is written as CSV, histogram PNG,
/// overlays and an HTML report.
#include <torch/types.h>

#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/core/runtime.h"
#include "emgan/segment/morphology.h"
#include "emgan/segment/particles.h"

namespace emgan::segment {

/// Settings of `emgan segment analyze`.
struct AnalyzeSettings {
  std::string images;        ///< image file or folder (for the rough method, a model, overlays, pixel size)
  std::string masks;         ///< folder of masks (same stems); "" = segment the images
  std::string model;         ///< segmenter model.pt used when no masks are given; "" = rough masks
  std::string out = "runs/psd";  ///< output folder
  double threshold = 0.5;    ///< probability threshold of the segmenter
  RoughMaskSettings rough;   ///< the built-in segmentation (no masks, no model)
  WatershedSettings split;   ///< splitting of touching particles
  bool exclude_border = true;    ///< particles cut by the image border are not measured
  /// Pixel size in nm; 0 = from the image (or mask) file, else sizes stay in px.
  double pixel_size_nm = 0.0;
  int64_t bins = 0;          ///< histogram bins (0 = automatic)
  int64_t overlays = 8;      ///< overlay PNGs written (first images)
  /// Known particles (a phantom's particles.csv) to compare the PSD with; "" = none.
  std::string truth_csv;
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AnalyzeSettings, images, masks, model, out, threshold, rough, split,
                                                exclude_border, pixel_size_nm, bins, overlays, truth_csv, runtime)

/// Mean, standard deviation (population), median and count of a set of sizes.
struct SizeSummary {
  int64_t count = 0;
  double mean = 0.0;
  double std = 0.0;
  double median = 0.0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SizeSummary, count, mean, std, median)
SizeSummary summarize_sizes(const std::vector<double>& values);

/// The result of an analysis.
struct AnalysisSummary {
  int64_t images = 0;
  int64_t particles = 0;          ///< found, border ones included
  std::string unit = "px";        ///< "nm" or "px"
  std::string mask_source;        ///< "masks", "model" or "rough"
  SizeSummary diameter;           ///< equivalent diameters of the measured particles, in `unit`
  SizeSummary truth;              ///< diameters of the known particles (count 0 without truth_csv)
  double mean_error_percent = 0.0;  ///< 100 (mean - truth mean) / truth mean (with truth_csv)
  /// "particles=<n> mean_diameter=<x> <unit> std=<x> [truth_mean=<x> error=<x>%]"
  std::string last_line() const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AnalysisSummary, images, particles, unit, mask_source, diameter,
                                                truth, mean_error_percent)

/// Pixel size in nm from a file's description (unit nm, Å/A/angstrom, pm, µm/um);
/// 0 when unknown.
double pixel_size_nm_of(double pixel_size, const std::string& unit);

/// Splits a bool `[H, W]` mask into particles and measures them (sizes in px).
std::vector<Particle> analyze_mask(const torch::Tensor& mask, const WatershedSettings& split,
                                   torch::Tensor* labels = nullptr);

/// Equivalent diameters (px) of the particles of a phantom particles.csv that do not
/// touch the border (all when `include_border`).
std::vector<double> read_truth_diameters(const fs::path& csv, bool include_border = false);

/// Runs the analysis and writes particles.csv (one row per particle), psd.csv
/// (histogram), psd.png, summary.json, overlays/*.png and index.html into
/// settings.out.
AnalysisSummary run_analyze(const AnalyzeSettings& settings);

}  // namespace emgan::segment
