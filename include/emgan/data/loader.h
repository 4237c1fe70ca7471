#pragma once
/// \file loader.h
/// Batches of a Dataset, shuffled with a seed (a new, reproducible order every
/// epoch), prepared in a background thread (bounded queue of `prefetch` batches).
///
/// Reproducibility: the order of epoch e is seeded_permutation(n, mix_seed(seed, e));
/// the sample at position p of epoch e is made with seed mix_seed(seed, e, p)
/// (passed to Dataset::get(i, seed) and to the transform), so the batches do not
/// depend on threading, and a loader restored to a saved position continues with
/// exactly the batches an uninterrupted one would have produced.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/data/sample.h"

namespace emgan::data {

class Dataset;

/// Turns a sample into a training sample (crop, normalise, augment) with the
/// sample's own seed (make a generator with make_generator(seed)).
using SampleTransform = std::function<Sample(Sample sample, uint64_t seed)>;

/// Options of DataLoader.
struct LoaderOptions {
  /// Samples per batch (> 0).
  int64_t batch_size = 1;
  /// Reshuffle every epoch (else the index order).
  bool shuffle = true;
  /// Seed of the order and of the per-sample randomness.
  uint64_t seed = 0;
  /// Drop the last batch when it is smaller than batch_size.
  bool drop_last = false;
  /// Batches prepared ahead by the background thread (0 = no thread, everything
  /// happens in next(); 1-2 usual).
  int64_t prefetch = 2;
};

/// Where a loader stands: the next batch it will return.
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t batch = 0;
  Json to_json() const { return Json{{"epoch", epoch}, {"batch", batch}}; }
  static LoaderPosition from_json(const Json& j);
  bool operator==(const LoaderPosition& o) const { return epoch == o.epoch && batch == o.batch; }
};

class DataLoader {
 public:
  /// Loads the samples `indices` of `dataset` (all when empty); `transform` may be
  /// empty. Throws ConfigError for bad options, an index out of range, or when an
  /// epoch would hold no batch.
  DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options,
             std::vector<size_t> indices = {}, SampleTransform transform = {});
  /// Stops the background thread (also in the middle of an epoch).
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// The next batch of the current epoch, or nullopt at its end; the call after a
  /// nullopt starts the next epoch. An exception raised while preparing a batch
  /// (file error, transform error) is rethrown here.
  std::optional<Batch> next();

  /// Batches per epoch.
  int64_t batches_per_epoch() const;
  /// Number of samples loaded (the indices).
  size_t size() const { return indices_.size(); }

  /// The position of the next batch (save it in a checkpoint).
  LoaderPosition position() const { return position_; }
  /// Continues from `pos` (e.g. from a checkpoint); discards prefetched batches.
  void set_position(const LoaderPosition& pos);

  /// Dataset indices of the batch at `pos`, in order (what next() would load).
  std::vector<size_t> batch_indices(const LoaderPosition& pos) const;

 private:
  struct Item {
    LoaderPosition pos;
    std::optional<Batch> batch;  // nullopt: end of epoch
    std::exception_ptr error;
  };

  Item produce(const LoaderPosition& pos) const;
  static LoaderPosition advance(const LoaderPosition& pos, bool end_of_epoch);
  void start_worker();
  void stop_worker();
  void worker_loop(LoaderPosition pos);
  std::vector<size_t> order(int64_t epoch) const;

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  std::vector<size_t> indices_;
  SampleTransform transform_;
  LoaderPosition position_;

  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;

  mutable std::mutex order_mutex_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<size_t> cached_order_;
};

}  // namespace emgan::data
