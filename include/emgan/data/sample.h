#pragma once
/// \file sample.h
/// One training/inference example (Sample), a batch of them (Batch), batch
/// collation, and the seeded random helpers that every part of `data` draws from.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace emgan::data {

/// One example. Images are float32 `[C, H, W]` (volumes/sub-cubes `[C, D, H, W]`) in
/// the units of their files until a Normalizer is applied.
struct Sample {
  torch::Tensor input;      ///< `[C, H, W]` or `[C, D, H, W]`, float32
  torch::Tensor target;     ///< same spatial shape as `input`; undefined when the data set has none
  std::string id;           ///< ID extracted from the file name (unique within `group`)
  std::string group;        ///< e.g. the material sub-folder; "" when there are no groups
  std::string input_path;   ///< file the input came from ("" for in-memory data)
  std::string target_path;  ///< file the target came from ("" when none)

  bool has_target() const { return target.defined(); }
  /// "group/id", or "id" when the group is empty: the unique key used by splits.
  std::string key() const;
};

/// Samples stacked along a new batch dimension.
struct Batch {
  torch::Tensor input;   ///< `[N, C, H, W]` (or `[N, C, D, H, W]`)
  torch::Tensor target;  ///< same shape as `input`; undefined when the samples have no target
  std::vector<std::string> ids;
  std::vector<std::string> groups;
  std::vector<std::string> input_paths;
  std::vector<std::string> target_paths;

  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

/// Stacks samples of one shape (crop them to one size first). Throws ConfigError
/// naming the two samples (IDs, shapes) when shapes differ, when some have a target
/// and others not, or when `samples` is empty.
Batch collate(const std::vector<Sample>& samples);

/// The key of an (id, group) pair, as Sample::key().
std::string make_key(const std::string& id, const std::string& group);

// --- seeded randomness ---------------------------------------------------------

/// A CPU torch::Generator seeded with `seed`. Every random draw of `data` comes
/// from such a generator (noise for GPU tensors is drawn on the CPU and moved, so
/// results do not depend on the device).
torch::Generator make_generator(uint64_t seed);

/// A uniform double in [0, 1) from `gen`.
double uniform(torch::Generator& gen);

/// A uniform integer in [0, n) from `gen` (n > 0).
int64_t uniform_int(torch::Generator& gen, int64_t n);

/// Mixes seeds into one (splitmix64 of a running hash); used to derive the seed of
/// (run seed, epoch, position) so that every sample's randomness is reproducible.
uint64_t mix_seed(uint64_t a, uint64_t b);
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c);

/// A permutation of 0..n-1 from a Fisher-Yates shuffle driven by std::mt19937_64
/// seeded with `seed` (own implementation: identical on every standard library).
std::vector<size_t> seeded_permutation(size_t n, uint64_t seed);

/// Shuffles `v` in place like seeded_permutation.
template <typename T>
void seeded_shuffle(std::vector<T>& v, uint64_t seed) {
  const auto perm = seeded_permutation(v.size(), seed);
  std::vector<T> out;
  out.reserve(v.size());
  for (size_t i : perm) out.push_back(v[i]);
  v = std::move(out);
}

}  // namespace emgan::data
