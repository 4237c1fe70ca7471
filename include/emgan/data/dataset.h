#pragma once
/// \file dataset.h
/// Data sets of images read from folders (lazily or cached in memory) and of one
/// volume. All images are float32 `[C, H, W]` in the units of their files; sizes
/// may differ between samples (crop them, see crop.h). `get` is thread-safe, so a
/// DataLoader may call it from its background thread.
#include <torch/torch.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "emgan/core/fs.h"
#include "emgan/data/sample.h"

namespace emgan::data {

/// Default ID pattern of inputs: `Pt_Mo5_convolution_7.txt`, `Pt_convolution_17.txt` -> "7", "17".
inline constexpr const char* kDefaultInputPattern = R"(^.*convolution_(\d+)\.[A-Za-z0-9]+$)";
/// Default ID pattern of targets: `pt_mo5_7_cl160mm_ss.tif`, `Pt_17_cl160mm_ss.tif` -> "7", "17".
inline constexpr const char* kDefaultTargetPattern = R"(^.*_(\d+)_cl\d+mm.*\.[A-Za-z0-9]+$)";

/// Base class of every data set.
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Number of samples.
  virtual size_t size() const = 0;
  /// Sample `index` (0 <= index < size()); throws ConfigError for an index out of
  /// range and IoError for a file that cannot be read or is invalid (naming it).
  virtual Sample get(size_t index) const = 0;
  /// Sample `index` where the data set itself draws at random (an unpaired
  /// partner, a volume slice position) from `seed`; the others return get(index).
  virtual Sample get(size_t index, uint64_t seed) const {
    (void)seed;
    return get(index);
  }
  /// ID and group of sample `index` without reading its images.
  virtual std::string id(size_t index) const = 0;
  virtual std::string group(size_t index) const {
    (void)index;
    return "";
  }
  /// "group/id" of sample `index` (see Sample::key).
  std::string key(size_t index) const { return make_key(id(index), group(index)); }
  /// Sorted distinct groups.
  std::vector<std::string> groups() const;
};

/// Lists the files under `dir` whose extension io::read_image accepts, sorted by
/// path; hidden files are skipped. `recursive` walks sub-folders. Throws IoError
/// when `dir` is not a folder.
std::vector<fs::path> list_image_files(const fs::path& dir, bool recursive = false);

/// The single capture group of `pattern` in the file name of `path` (the whole
/// name must match); nullopt when it does not match. Throws ConfigError naming the
/// pattern when it is not a valid regex with exactly one capture group.
std::optional<std::string> extract_id(const fs::path& path, const std::string& pattern,
                                      bool ignore_case = true);

/// Reads one image with io::read_image and checks it: NaN/Inf values are an
/// IoError naming the file (when `check_finite`).
torch::Tensor load_checked_image(const fs::path& path, bool check_finite = true);

/// Options of PairedFolderDataset.
struct PairedFolderOptions {
  /// ECMAScript regex matched against the whole input file name; its one capture
  /// group is the ID.
  TORCH_ARG(std::string, input_pattern) = kDefaultInputPattern;
  /// Same for target file names.
  TORCH_ARG(std::string, target_pattern) = kDefaultTargetPattern;
  /// Patterns match case-insensitively and IDs are compared in lower case.
  TORCH_ARG(bool, ignore_case) = true;
  /// An image file that matches no pattern is an error (else it is ignored).
  TORCH_ARG(bool, strict) = true;
  /// A target with no input is an error (else it is ignored).
  TORCH_ARG(bool, require_all_targets_used) = true;
  /// Keep images in memory after their first read.
  TORCH_ARG(bool, cache) = true;
  /// Read (and check) every pair at construction: shape mismatches and NaN/Inf
  /// are reported before training starts. Otherwise they are found by get().
  TORCH_ARG(bool, preload) = false;
  /// NaN/Inf in an image is an error naming the file.
  TORCH_ARG(bool, check_finite) = true;
};

/// A pair of files (input, target) with the ID and group that matched them.
struct PairEntry {
  std::string id;
  std::string group;
  fs::path input_path;
  fs::path target_path;
};

/// Pairs of images from two folders, matched by IDs taken from file names, or from
/// a tree whose first-level sub-folders are groups (e.g. the materials Pt, Pt-Mo5,
/// Pt-Mo50, each with a *_convolution and a *_multislice* folder).
///
/// Errors (ConfigError/IoError, never a silent skip): no pairs at all; an input
/// with no target (naming the input file and where targets were sought); a
/// duplicate ID (naming both files); an input and target of different spatial shape
/// (naming both files and shapes; channels may differ); NaN/Inf (naming the file).
class PairedFolderDataset : public Dataset {
 public:
  /// Inputs from `input_dir`, targets from `target_dir`, not recursive; group "".
  PairedFolderDataset(const fs::path& input_dir, const fs::path& target_dir,
                      PairedFolderOptions options = {});

  /// Walks `root` recursively; files whose names match the input pattern are
  /// inputs, those matching the target pattern targets (a name matching both is an
  /// error). The group of a file is its first-level sub-folder under `root`; pairs
  /// are matched by (group, ID).
  static std::shared_ptr<PairedFolderDataset> from_tree(const fs::path& root,
                                                        PairedFolderOptions options = {});

  size_t size() const override { return pairs_.size(); }
  using Dataset::get;
  Sample get(size_t index) const override;
  std::string id(size_t index) const override;
  std::string group(size_t index) const override;
  /// The matched pairs, sorted by (group, numeric-aware ID).
  const std::vector<PairEntry>& pairs() const { return pairs_; }
  const PairedFolderOptions& options() const { return options_; }

 private:
  PairedFolderDataset(std::vector<PairEntry> pairs, PairedFolderOptions options);
  void finish_construction();

  std::vector<PairEntry> pairs_;
  PairedFolderOptions options_;
  mutable std::mutex mutex_;
  mutable std::map<size_t, Sample> cache_;
};

/// Options of SingleFolderDataset.
struct SingleFolderOptions {
  /// Regex with one capture group for the ID; "" = the file stem is the ID.
  TORCH_ARG(std::string, pattern) = "";
  TORCH_ARG(bool, ignore_case) = true;
  /// Walk sub-folders; the group is the first-level sub-folder.
  TORCH_ARG(bool, recursive) = false;
  /// With a pattern: a file that does not match is an error (else ignored).
  TORCH_ARG(bool, strict) = true;
  TORCH_ARG(bool, cache) = true;
  TORCH_ARG(bool, check_finite) = true;
};

/// The images of one folder, as inputs without target (for inference or
/// unconditional generation).
class SingleFolderDataset : public Dataset {
 public:
  explicit SingleFolderDataset(const fs::path& dir, SingleFolderOptions options = {});
  size_t size() const override { return files_.size(); }
  using Dataset::get;
  Sample get(size_t index) const override;
  std::string id(size_t index) const override;
  std::string group(size_t index) const override;
  const std::vector<fs::path>& files() const { return files_; }

 private:
  std::vector<fs::path> files_;
  std::vector<std::string> ids_;
  std::vector<std::string> groups_;
  SingleFolderOptions options_;
  mutable std::mutex mutex_;
  mutable std::map<size_t, torch::Tensor> cache_;
};

/// Two independent folders (domains A and B, CycleGAN style). size() is the larger
/// of the two; get(i) pairs A[i % nA] with B[i % nB]; get(i, seed) pairs A[i % nA]
/// with a B image drawn from `seed`, so the pairing changes from epoch to epoch.
/// Sample::id is the A image's ID; target_path names the B file.
class UnpairedDataset : public Dataset {
 public:
  UnpairedDataset(const fs::path& dir_a, const fs::path& dir_b, SingleFolderOptions options = {});
  size_t size() const override;
  Sample get(size_t index) const override;
  Sample get(size_t index, uint64_t seed) const override;
  std::string id(size_t index) const override;
  std::string group(size_t index) const override;
  const SingleFolderDataset& domain_a() const { return a_; }
  const SingleFolderDataset& domain_b() const { return b_; }

 private:
  Sample combine(size_t ia, size_t ib) const;
  SingleFolderDataset a_;
  SingleFolderDataset b_;
};

/// Options of VolumeDataset.
struct VolumeOptions {
  /// "slice": 2D slices `[C, h, w]`; "cube": 3D sub-cubes `[C, s, s, s]`.
  TORCH_ARG(std::string, mode) = "slice";
  /// Slice axis: 0 = depth (D), 1 = height (H), 2 = width (W), -1 = a random axis per sample.
  TORCH_ARG(int64_t, axis) = 0;
  /// Side of the square crop of a slice, or of the cube, in voxels; 0 = the full
  /// slice (mode "slice" only).
  TORCH_ARG(int64_t, size) = 64;
  /// Samples per epoch (each drawn at a random position).
  TORCH_ARG(int64_t, samples_per_epoch) = 64;
};

/// Random 2D slices or 3D sub-cubes of one volume `[C, D, H, W]` (e.g. a
/// tomography volume). get(i) is deterministic in i; get(i, seed) draws from seed.
/// Sample::id is "a<axis>_<index>_<offset1>_<offset2>" (slices) or "z_y_x" (cubes).
class VolumeDataset : public Dataset {
 public:
  VolumeDataset(torch::Tensor volume, VolumeOptions options = {}, std::string name = "volume");
  /// Reads the volume from a file (a multi-page TIFF, MRC, NPY...).
  static std::shared_ptr<VolumeDataset> from_file(const fs::path& path, VolumeOptions options = {});
  size_t size() const override { return static_cast<size_t>(options_.samples_per_epoch()); }
  Sample get(size_t index) const override;
  Sample get(size_t index, uint64_t seed) const override;
  std::string id(size_t index) const override;
  /// The whole volume `[C, D, H, W]`.
  const torch::Tensor& volume() const { return volume_; }

 private:
  torch::Tensor volume_;
  VolumeOptions options_;
  std::string name_;
};

/// A data set of in-memory samples (tests, generated data).
class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(std::vector<Sample> samples);
  size_t size() const override { return samples_.size(); }
  using Dataset::get;
  Sample get(size_t index) const override;
  std::string id(size_t index) const override;
  std::string group(size_t index) const override;

 private:
  std::vector<Sample> samples_;
};

}  // namespace emgan::data
