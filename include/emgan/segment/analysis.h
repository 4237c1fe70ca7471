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
  double threshold = 0.0;    ///< probability threshold of the segmenter (0 = the model's own)
  int64_t tta_views = 8;     ///< test-time averaged views of the segmenter (Segmenter::set_views)
  RoughMaskSettings rough;   ///< the built-in segmentation (no masks, no model)
  WatershedSettings split;   ///< splitting of touching particles
  bool exclude_border = true;    ///< particles cut by the image border are not measured
  /// Pixel size in nm; 0 = from the image (or mask) file, else sizes stay in px.
  double pixel_size_nm = 0.0;
  int64_t bins = 0;          ///< histogram bins (0 = automatic)
  int64_t overlays = 8;      ///< overlay PNGs written (first images)
  /// Known particles (a phantom's particles.csv) to compare the PSD with; "" = none.
  std::string truth_csv;
  /// Size filter of the PSD (the rule of the mask statistics, `MaskFitSettings`),
  /// applied to all images of the analysis together: detections below min_area_ratio x
  /// the median area of the kept particles (support specks of a segmenter) and, when
  /// max_area_ratio > 0, above max_area_ratio x that median are left out of the PSD
  /// (still listed in particles.csv, column `excluded`). Off: every detection counts.
  bool size_filter = true;
  /// [0, 1); 0.2 = diameter below 0.45 x the median's. Lower than the mask statistics'
  /// 0.25: the PSD must keep every true particle of a wide law (the hard phantoms'
  /// diameters reach down to half their mean, and 0.25 cut 5 of 82 true particles of
  /// one test set whose median came out high), and specks are far smaller.
  double min_area_ratio = 0.2;
  double max_area_ratio = 0.0;   ///< 0 = no upper limit (big particles are real; merged ones are split)
  double min_area_px = 0.0;      ///< absolute floor, px (0 = none)
  /// Contrast filter: detections whose significance (measure_significance: contrast
  /// over the support's variation at their own scale) is below this are left out of
  /// the PSD as "faint" (support texture taken for particles); 0 = off. Needs the
  /// images. 2 kept every true particle of the hard phantoms from dose 100 down to 20
  /// e/px (88 of 89 at 5) and removed most false detections (docs/SEGMENT.md).
  double min_significance = 2.0;
  RuntimeSettings runtime;
  /// The filter's rule; all zero (keeps everything) when size_filter is off.
  MaskFitSettings fit_settings() const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AnalyzeSettings, images, masks, model, out, threshold, tta_views, rough, split,
                                                exclude_border, pixel_size_nm, bins, overlays, truth_csv, size_filter,
                                                min_area_ratio, max_area_ratio, min_area_px, min_significance, runtime)

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
  int64_t excluded_small = 0;     ///< detections left out by the size filter's minimum area
  int64_t excluded_large = 0;     ///< detections left out by its maximum area
  int64_t excluded_faint = 0;     ///< detections left out by the contrast filter
  double min_area_px = 0.0;       ///< the filter's limits, px (0 = none)
  double max_area_px = 0.0;
  SizeSummary unfiltered;         ///< diameters of the measured particles before the size filter
  double unfiltered_error_percent = 0.0;  ///< the same comparison with truth, before the filter
  /// "particles=<n> mean_diameter=<x> <unit> std=<x> [truth_mean=<x> error=<x>%]
  ///  [excluded_small=<n> (below <x> px)]"
  std::string last_line() const;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AnalysisSummary, images, particles, unit, mask_source, diameter,
                                                truth, mean_error_percent, excluded_small, excluded_large, excluded_faint,
                                                min_area_px,
                                                max_area_px, unfiltered, unfiltered_error_percent)

/// Pixel size in nm from a file's description (unit nm, Å/A/angstrom, pm, µm/um);
/// 0 when unknown.
double pixel_size_nm_of(double pixel_size, const std::string& unit);

/// Splits a bool `[H, W]` mask into particles and measures them (sizes in px).
std::vector<Particle> analyze_mask(const torch::Tensor& mask, const WatershedSettings& split,
                                   torch::Tensor* labels = nullptr);

/// What the PSD does with a detected particle.
enum class ParticleUse { kMeasured, kBorder, kBelowMinArea, kAboveMaxArea, kFaint };
/// "" (measured), "border", "below_min_area", "above_max_area", "faint".
const char* to_string(ParticleUse use);

/// The particles of one analysis (all images together) that enter the PSD.
struct PsdSelection {
  AreaLimits limits;                          ///< the size filter's limits, px (0 = none)
  std::vector<std::vector<ParticleUse>> use;  ///< per image, per particle
  std::vector<double> diameters_px;           ///< equivalent diameters of the kept particles, px
  std::vector<double> unfiltered_px;          ///< the same before the size filter
  int64_t below_min = 0;                      ///< measured particles left out below the minimum area
  int64_t above_max = 0;                      ///< ... above the maximum area
  int64_t faint = 0;                          ///< ... below the minimum significance
};

/// Selects the PSD's particles: those touching the border are left out when
/// `exclude_border`; the size limits (fit_area_limits of `fit`) come from the particles
/// that do not touch the border, of all images together, and apply to every measured
/// particle. `MaskFitSettings{0, 0, 0}` keeps every measured particle. Before the
/// size filter, particles whose significance is measured and below `min_significance`
/// are left out as faint (0 = no contrast filter); they do not set the size limits.
PsdSelection select_psd_particles(const std::vector<std::vector<Particle>>& per_image, bool exclude_border,
                                  const MaskFitSettings& fit, double min_significance = 0.0);

/// Equivalent diameters (px) of the particles of a phantom particles.csv that do not
/// touch the border (all when `include_border`).
std::vector<double> read_truth_diameters(const fs::path& csv, bool include_border = false);

/// Runs the analysis and writes particles.csv (one row per particle), psd.csv
/// (histogram), psd.png, summary.json, overlays/*.png and index.html into
/// settings.out.
AnalysisSummary run_analyze(const AnalyzeSettings& settings);

}  // namespace emgan::segment
