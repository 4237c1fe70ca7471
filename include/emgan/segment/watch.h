#pragma once
/// \file watch.h
/// On-the-fly particle sizing (`emgan segment watch DIR`): every new image the
/// microscope writes into a folder is segmented (a trained segmenter or the rough
/// method), split and measured as soon as its size has stopped changing, and appended
/// to a running PSD (particles.csv, psd.png, summary.json) with its latency. A file
/// that cannot be read is logged (errors.log) and skipped; watching goes on.
#include <cstdint>
#include <string>

#include "emgan/core/config.h"
#include "emgan/core/runtime.h"
#include "emgan/segment/morphology.h"

namespace emgan::segment {

/// Settings of `emgan segment watch`.
struct WatchSettings {
  std::string dir;               ///< folder the microscope writes into
  std::string out = "runs/watch";  ///< running PSD folder
  std::string model;             ///< segmenter model.pt ("" = rough method)
  double threshold = 0.0;        ///< segmenter probability threshold (0 = the model's own)
  int64_t tta_views = 8;         ///< test-time averaged views of the segmenter (Segmenter::set_views)
  RoughMaskSettings rough;       ///< the rough method, when no model
  WatershedSettings split;       ///< splitting of touching particles
  bool exclude_border = true;    ///< leave out particles cut by the border
  double pixel_size_nm = 0.0;    ///< pixel size, nm (0 = from each file; else px)
  double poll_s = 0.5;           ///< seconds between folder scans
  double settle_s = 1.0;         ///< a file is complete when its size is unchanged this long, s
  int64_t max_images = 0;        ///< stop after this many images (0 = never)
  double idle_timeout_s = 0.0;   ///< stop after this long without a new file, s (0 = never)
  /// Size filter of the running PSD, as in AnalyzeSettings: the limits are refitted on
  /// all images so far at each update (particles.csv keeps every detection).
  bool size_filter = true;
  double min_area_ratio = 0.2;   ///< [0, 1), fraction of the median area (0 = no relative floor)
  double max_area_ratio = 0.0;   ///< 0 = no upper limit
  double min_area_px = 0.0;      ///< absolute floor, px
  double min_significance = 2.0; ///< contrast filter, as in AnalyzeSettings (0 = off)
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WatchSettings, dir, out, model, threshold, tta_views, rough, split,
                                                exclude_border, pixel_size_nm, poll_s, settle_s, max_images,
                                                idle_timeout_s, size_filter, min_area_ratio, max_area_ratio, min_significance,
                                                min_area_px, runtime)

/// What a watch session did.
struct WatchSummary {
  int64_t images = 0;           ///< images measured
  int64_t failed = 0;           ///< files that could not be read (see errors.log)
  int64_t particles = 0;        ///< particles measured in all (before the size filter)
  int64_t excluded_small = 0;   ///< of them, left out of the running PSD by the size filter (at the end)
  double mean_latency_s = 0.0;  ///< mean seconds from a file being complete to its PSD update
};

/// Watches settings.dir until max_images or idle_timeout_s (runs forever with both 0).
WatchSummary run_watch(const WatchSettings& settings);

}  // namespace emgan::segment
