#pragma once
/// \file workflow.h
/// `emgan micro stats`: load an image or volume, turn it into phases, compute the
/// statistics (optionally of a second sample too, and compare), print tables and
/// write stats.json, CSV, PNG plots and index.html.
#include <cstdint>
#include <optional>
#include <string>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/core/runtime.h"
#include "emgan/micro/phases.h"
#include "emgan/micro/stats.h"

namespace emgan::micro {

/// Settings of `emgan micro stats`.
struct StatsRunSettings {
  std::string input;             ///< image (PNG/TIFF/...) or volume (multi-page TIFF, .npy, .mrc)
  std::string compare;           ///< second sample to compare with `input` (the reference); "" = none
  std::string out = "micro-stats";  ///< output folder
  int64_t phases = 0;            ///< 0 = detect the phases of a label image; N = Otsu-threshold into N
  /// Sub-region of the input, "a:b,c:d[,e:f]" per axis (z,y,x or y,x; half-open
  /// voxel ranges, an empty side means the whole axis, e.g. "0:128,:,:"); "" = all.
  std::string region;
  std::string compare_region;    ///< the same for `compare`
  /// > 1: cut the sample (and `compare`) into `blocks` equal parts per axis and analyse
  /// each part on its own (blocks^3 sub-volumes, blocks^2 in 2D): the spread of every
  /// statistic between sub-volumes of one material, the yardstick for a generated one
  /// (write_blocks_report). The whole sample is then not analysed. 1 = off.
  int64_t blocks = 1;
  StatsSettings stats;           ///< what is measured
  RuntimeSettings runtime;       ///< device, threads
};
void to_json(Json& j, const StatsRunSettings& s);
void from_json(const Json& j, StatsRunSettings& s);

/// Checks ranges; throws ConfigError naming the setting and value.
void validate(const StatsRunSettings& settings);

/// Reads `path` with io::read_image and turns it into phases (to_phases with
/// `phases`), after cropping to `region` (see StatsRunSettings::region). Errors
/// name the file.
PhaseMap load_phases(const fs::path& path, int64_t phases = 0, const std::string& region = "");

/// `tensor` ([H, W] or [D, H, W]) cropped to `region`; ConfigError naming `source`
/// for a malformed or out-of-range region.
torch::Tensor crop_region(const torch::Tensor& tensor, const std::string& region, const std::string& source = "");

/// `labels` ([H, W] or [D, H, W]) cut into `blocks` equal parts per axis, in row-major
/// order of the block index (z slowest); the voxels left over at the high end of an
/// axis (side not divisible by `blocks`) are left out. Each entry: the block's region
/// "a:b,c:d[,e:f]" and its labels. ConfigError naming `source` when a block would be
/// shorter than 8 voxels along an axis.
std::vector<std::pair<std::string, torch::Tensor>> split_blocks(const torch::Tensor& labels,
                                                                int64_t blocks,
                                                                const std::string& source = "");

/// What run_stats produced.
struct StatsRunResult {
  MicroStats stats;                           ///< of `input`
  std::optional<StatsComparison> comparison;  ///< when `compare` was given
  std::optional<BlockStats> blocks;           ///< with `blocks` > 1 (then `stats` is empty)
  std::optional<BlockStats> compare_blocks;   ///< with `blocks` > 1 and `compare`
  fs::path report;                            ///< index.html
  std::string table;                          ///< the text printed
};

/// Runs the whole verb: writes config.json, stats.json, CSV, plots and index.html
/// into `out` and returns the text table (also the caller's to print).
StatsRunResult run_stats(const StatsRunSettings& settings);

}  // namespace emgan::micro
