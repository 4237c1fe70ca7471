#pragma once
/// \file split.h
/// Deterministic k-fold splits by whole image (never by crop), optionally
/// stratified by group (e.g. material), saved as JSON in a run directory, and a
/// nested split of the training folds for nested tuning.
///
/// Algorithm (reproducible on every platform): items are sorted by key
/// ("group/id"), shuffled with seeded_permutation(seed), and dealt round-robin over
/// the k folds. Stratified: groups in sorted order, each group's items shuffled with
/// a seed derived from (seed, group) and dealt round-robin, the dealing continuing
/// where the previous group stopped so fold sizes differ by at most one.
#include <cstdint>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"

namespace emgan::data {

class Dataset;

/// One image of a split.
struct SplitItem {
  std::string id;
  std::string group;
  /// "group/id" (or "id").
  std::string key() const;
  bool operator==(const SplitItem& o) const { return id == o.id && group == o.group; }
  bool operator<(const SplitItem& o) const;
};

/// k folds; every item is in exactly one fold (its test fold).
struct KFoldSplit {
  int k = 5;
  uint64_t seed = 0;
  bool stratified = false;
  std::vector<std::vector<SplitItem>> folds;  ///< folds[f] = test items of fold f

  /// Test items of fold `f`; throws ConfigError for f out of [0, k).
  const std::vector<SplitItem>& test_items(int f) const;
  /// Items of every other fold (the training set of fold `f`), in fold order.
  std::vector<SplitItem> train_items(int f) const;
  /// Every item, fold by fold.
  std::vector<SplitItem> all_items() const;

  /// Indices into `dataset` of the test / training items of fold `f` (matched by
  /// key). Throws ConfigError naming a key that the data set does not hold.
  std::vector<size_t> test_indices(int f, const Dataset& dataset) const;
  std::vector<size_t> train_indices(int f, const Dataset& dataset) const;

  /// {"k":5, "seed":1, "stratified":true, "folds":[[{"id":"7","group":"Pt"}, ...], ...]}
  Json to_json() const;
  /// Inverse of to_json; throws ConfigError (naming `source`) for a malformed split,
  /// e.g. an item in two folds.
  static KFoldSplit from_json(const Json& j, const std::string& source = "split");
};

/// Splits `items` (unique keys; ConfigError for a duplicate or when k < 2 or
/// k > number of items) into `k` folds, see the file comment.
KFoldSplit make_kfold(std::vector<SplitItem> items, int k, uint64_t seed, bool stratified = false);

/// The items (id, group) of every sample of `dataset`, in index order.
std::vector<SplitItem> split_items(const Dataset& dataset);

/// Splits the training items of outer fold `outer_fold` into `inner_k` folds
/// (inner train / validation) for nested cross-validation; the seed is derived
/// from (outer.seed, outer_fold) and stratification follows `outer`.
KFoldSplit nested_split(const KFoldSplit& outer, int outer_fold, int inner_k);

/// Writes `split` as `<run_dir>/split.json` (atomically); returns the path.
fs::path save_split(const KFoldSplit& split, const fs::path& run_dir);
/// Reads a split written by save_split (a folder: its split.json; or a file).
KFoldSplit load_split(const fs::path& path);

/// Indices of `dataset` whose keys are in `items` (ConfigError for a missing key).
std::vector<size_t> indices_of(const std::vector<SplitItem>& items, const Dataset& dataset);

}  // namespace emgan::data
