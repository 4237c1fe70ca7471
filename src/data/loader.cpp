// DataLoader: seeded shuffling, batching, a background thread with a bounded queue.
#include "emgan/data/loader.h"

#include "emgan/core/error.h"
#include "emgan/data/dataset.h"

namespace emgan::data {

LoaderPosition LoaderPosition::from_json(const Json& j) {
  try {
    LoaderPosition p{j.at("epoch").get<int64_t>(), j.at("batch").get<int64_t>()};
    EMGAN_CHECK(ConfigError, p.epoch >= 0 && p.batch >= 0, "loader position must be >= 0, got ",
                j.dump());
    return p;
  } catch (const Json::exception& e) {
    throw ConfigError("loader position: expected {\"epoch\": E, \"batch\": B}, got " + j.dump() +
                      ": " + e.what());
  }
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, LoaderOptions options,
                       std::vector<size_t> indices, SampleTransform transform)
    : dataset_(std::move(dataset)),
      options_(options),
      indices_(std::move(indices)),
      transform_(std::move(transform)) {
  EMGAN_CHECK(ConfigError, dataset_ != nullptr, "DataLoader: no data set");
  EMGAN_CHECK(ConfigError, options_.batch_size > 0, "DataLoader: batch_size must be > 0, got ",
              options_.batch_size);
  EMGAN_CHECK(ConfigError, options_.prefetch >= 0 && options_.prefetch <= 64,
              "DataLoader: prefetch must be in [0, 64], got ", options_.prefetch);
  if (indices_.empty()) {
    for (size_t i = 0; i < dataset_->size(); ++i) indices_.push_back(i);
  }
  for (size_t i : indices_) {
    EMGAN_CHECK(ConfigError, i < dataset_->size(), "DataLoader: index ", i,
                " out of range (data set size ", dataset_->size(), ")");
  }
  EMGAN_CHECK(ConfigError, batches_per_epoch() > 0, "DataLoader: an epoch of ", indices_.size(),
              " samples holds no batch of ", options_.batch_size, " with drop_last");
  start_worker();
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::batches_per_epoch() const {
  const auto n = static_cast<int64_t>(indices_.size());
  return options_.drop_last ? n / options_.batch_size
                            : (n + options_.batch_size - 1) / options_.batch_size;
}

std::vector<size_t> DataLoader::order(int64_t epoch) const {
  std::lock_guard<std::mutex> lock(order_mutex_);
  if (cached_epoch_ != epoch) {
    cached_order_ = indices_;
    if (options_.shuffle)
      seeded_shuffle(cached_order_, mix_seed(options_.seed, static_cast<uint64_t>(epoch)));
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

std::vector<size_t> DataLoader::batch_indices(const LoaderPosition& pos) const {
  EMGAN_CHECK(ConfigError, pos.epoch >= 0 && pos.batch >= 0 && pos.batch < batches_per_epoch(),
              "DataLoader: no batch ", pos.batch, " in epoch ", pos.epoch, " (",
              batches_per_epoch(), " batches per epoch)");
  const auto ord = order(pos.epoch);
  const size_t begin = static_cast<size_t>(pos.batch * options_.batch_size);
  const size_t end = std::min(ord.size(), begin + static_cast<size_t>(options_.batch_size));
  return {ord.begin() + static_cast<std::ptrdiff_t>(begin),
          ord.begin() + static_cast<std::ptrdiff_t>(end)};
}

DataLoader::Item DataLoader::produce(const LoaderPosition& pos) const {
  Item item{pos, std::nullopt, nullptr};
  if (pos.batch >= batches_per_epoch()) return item;  // end of epoch
  try {
    const auto idx = batch_indices(pos);
    std::vector<Sample> samples;
    for (size_t j = 0; j < idx.size(); ++j) {
      const uint64_t p = static_cast<uint64_t>(pos.batch * options_.batch_size) + j;
      const uint64_t seed = mix_seed(options_.seed, static_cast<uint64_t>(pos.epoch), p);
      Sample s = dataset_->get(idx[j], seed);
      if (transform_) s = transform_(std::move(s), mix_seed(seed, 0x7F));
      samples.push_back(std::move(s));
    }
    item.batch = collate(samples);
  } catch (...) {
    item.error = std::current_exception();
  }
  return item;
}

LoaderPosition DataLoader::advance(const LoaderPosition& pos, bool end_of_epoch) {
  return end_of_epoch ? LoaderPosition{pos.epoch + 1, 0} : LoaderPosition{pos.epoch, pos.batch + 1};
}

void DataLoader::start_worker() {
  if (options_.prefetch == 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = false;
    queue_.clear();
  }
  worker_ = std::thread(&DataLoader::worker_loop, this, position_);
}

void DataLoader::stop_worker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
}

void DataLoader::worker_loop(LoaderPosition pos) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock,
               [&] { return stop_ || static_cast<int64_t>(queue_.size()) < options_.prefetch; });
      if (stop_) return;
    }
    Item item = produce(pos);
    const bool failed = item.error != nullptr;
    const bool end = !failed && !item.batch.has_value();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) return;
      queue_.push_back(std::move(item));
    }
    cv_.notify_all();
    if (failed) return;  // the consumer rethrows; set_position restarts the worker
    pos = advance(pos, end);
  }
}

std::optional<Batch> DataLoader::next() {
  Item item;
  if (options_.prefetch == 0) {
    item = produce(position_);
  } else {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !queue_.empty(); });
    item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    cv_.notify_all();
  }
  if (item.error) {
    // Leave the position at the failed batch; restart the worker so that a caller
    // that catches the error may retry (or move on with set_position).
    if (options_.prefetch > 0) {
      stop_worker();
      start_worker();
    }
    std::rethrow_exception(item.error);
  }
  position_ = advance(position_, !item.batch.has_value());
  return std::move(item.batch);
}

void DataLoader::set_position(const LoaderPosition& pos) {
  EMGAN_CHECK(ConfigError, pos.epoch >= 0 && pos.batch >= 0 && pos.batch <= batches_per_epoch(),
              "DataLoader: cannot resume at batch ", pos.batch, " of epoch ", pos.epoch, " (",
              batches_per_epoch(), " batches per epoch)");
  stop_worker();
  position_ = pos;
  start_worker();
}

}  // namespace emgan::data
