// k-fold splits (by whole image, optionally stratified by group) and the
// normalisation strategies.
#include "emgan/data/split.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "emgan/core/error.h"
#include "emgan/data/dataset.h"
#include "emgan/data/normalize.h"

namespace emgan::data {

// --- splits -------------------------------------------------------------------------------

namespace {
/// FNV-1a hash of a string: the same on every platform (unlike std::hash).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}
}  // namespace

std::string SplitItem::key() const { return make_key(id, group); }

bool SplitItem::operator<(const SplitItem& o) const {
  return group != o.group ? group < o.group : id < o.id;
}

const std::vector<SplitItem>& KFoldSplit::test_items(int f) const {
  EMGAN_CHECK(ConfigError, f >= 0 && f < static_cast<int>(folds.size()), "fold ", f,
              " out of range [0, ", folds.size(), ")");
  return folds[static_cast<size_t>(f)];
}

std::vector<SplitItem> KFoldSplit::train_items(int f) const {
  test_items(f);
  std::vector<SplitItem> out;
  for (size_t g = 0; g < folds.size(); ++g) {
    if (static_cast<int>(g) == f) continue;
    out.insert(out.end(), folds[g].begin(), folds[g].end());
  }
  return out;
}

std::vector<SplitItem> KFoldSplit::all_items() const {
  std::vector<SplitItem> out;
  for (const auto& fold : folds) out.insert(out.end(), fold.begin(), fold.end());
  return out;
}

std::vector<size_t> indices_of(const std::vector<SplitItem>& items, const Dataset& dataset) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < dataset.size(); ++i) index.emplace(dataset.key(i), i);
  std::vector<size_t> out;
  for (const auto& it : items) {
    auto found = index.find(it.key());
    EMGAN_CHECK(ConfigError, found != index.end(), "split item '", it.key(),
                "' is not in the data set (was the split made for another data set?)");
    out.push_back(found->second);
  }
  return out;
}

std::vector<size_t> KFoldSplit::test_indices(int f, const Dataset& dataset) const {
  return indices_of(test_items(f), dataset);
}

std::vector<size_t> KFoldSplit::train_indices(int f, const Dataset& dataset) const {
  return indices_of(train_items(f), dataset);
}

Json KFoldSplit::to_json() const {
  Json jf = Json::array();
  for (const auto& fold : folds) {
    Json items = Json::array();
    for (const auto& it : fold) items.push_back(Json{{"id", it.id}, {"group", it.group}});
    jf.push_back(items);
  }
  return Json{{"k", k}, {"seed", seed}, {"stratified", stratified}, {"folds", jf}};
}

KFoldSplit KFoldSplit::from_json(const Json& j, const std::string& source) {
  KFoldSplit s;
  try {
    s.k = j.at("k").get<int>();
    s.seed = j.at("seed").get<uint64_t>();
    s.stratified = j.at("stratified").get<bool>();
    std::set<std::string> seen;
    for (const auto& jf : j.at("folds")) {
      std::vector<SplitItem> fold;
      for (const auto& ji : jf) {
        SplitItem it{ji.at("id").get<std::string>(), ji.value("group", std::string())};
        EMGAN_CHECK(ConfigError, seen.insert(it.key()).second, source, ": item '", it.key(),
                    "' is in two folds");
        fold.push_back(it);
      }
      s.folds.push_back(std::move(fold));
    }
  } catch (const Json::exception& e) {
    throw ConfigError(source + ": malformed split: " + e.what());
  }
  EMGAN_CHECK(ConfigError, static_cast<int>(s.folds.size()) == s.k, source, ": k is ", s.k,
              " but there are ", s.folds.size(), " folds");
  return s;
}

std::vector<SplitItem> split_items(const Dataset& dataset) {
  std::vector<SplitItem> out;
  for (size_t i = 0; i < dataset.size(); ++i)
    out.push_back(SplitItem{dataset.id(i), dataset.group(i)});
  return out;
}

KFoldSplit make_kfold(std::vector<SplitItem> items, int k, uint64_t seed, bool stratified) {
  EMGAN_CHECK(ConfigError, k >= 2, "k-fold split: k must be >= 2, got ", k);
  EMGAN_CHECK(ConfigError, static_cast<size_t>(k) <= items.size(), "k-fold split: k = ", k,
              " folds need at least ", k, " images, got ", items.size());
  std::sort(items.begin(), items.end());
  for (size_t i = 1; i < items.size(); ++i) {
    EMGAN_CHECK(ConfigError, !(items[i] == items[i - 1]), "k-fold split: duplicate item '",
                items[i].key(), "'");
  }
  KFoldSplit s;
  s.k = k;
  s.seed = seed;
  s.stratified = stratified;
  s.folds.assign(static_cast<size_t>(k), {});
  size_t next = 0;
  const auto deal = [&](std::vector<SplitItem> group_items, uint64_t group_seed) {
    seeded_shuffle(group_items, group_seed);
    for (auto& it : group_items) {
      s.folds[next].push_back(std::move(it));
      next = (next + 1) % static_cast<size_t>(k);
    }
  };
  if (!stratified) {
    deal(items, seed);
  } else {
    std::map<std::string, std::vector<SplitItem>> by_group;
    for (const auto& it : items) by_group[it.group].push_back(it);
    for (auto& [g, group_items] : by_group) {
      deal(group_items, mix_seed(seed, fnv1a(g)));
    }
  }
  for (auto& fold : s.folds) std::sort(fold.begin(), fold.end());
  return s;
}

KFoldSplit nested_split(const KFoldSplit& outer, int outer_fold, int inner_k) {
  return make_kfold(outer.train_items(outer_fold), inner_k,
                    mix_seed(outer.seed, static_cast<uint64_t>(outer_fold) + 1), outer.stratified);
}

fs::path save_split(const KFoldSplit& split, const fs::path& run_dir) {
  ensure_dir(run_dir);
  const fs::path path = run_dir / "split.json";
  save_json_file(path, split.to_json());
  return path;
}

KFoldSplit load_split(const fs::path& path) {
  const fs::path file = fs::is_directory(path) ? path / "split.json" : path;
  return KFoldSplit::from_json(load_json_file(file), file.string());
}

// --- normalisation ------------------------------------------------------------------------

namespace {

torch::Tensor reduce_min(const torch::Tensor& x, const std::vector<int64_t>& dims) {
  return dims.empty() ? x.min() : x.amin(dims, true);
}
torch::Tensor reduce_max(const torch::Tensor& x, const std::vector<int64_t>& dims) {
  return dims.empty() ? x.max() : x.amax(dims, true);
}
torch::Tensor reduce_mean(const torch::Tensor& x, const std::vector<int64_t>& dims) {
  return dims.empty() ? x.mean() : x.mean(dims, true);
}
torch::Tensor reduce_std(const torch::Tensor& x, const std::vector<int64_t>& dims) {
  // Population std (unbiased = false), as numpy's default.
  return dims.empty() ? x.std(false) : x.std(dims, false, true);
}

/// Floors a range/std so that a constant image does not divide by zero.
torch::Tensor safe_scale(const torch::Tensor& s) {
  return torch::where(s > 0, s, torch::ones_like(s));
}

void check_options(const Json& j, const std::vector<std::string>& allowed,
                   const std::string& name) {
  EMGAN_CHECK(ConfigError, j.is_object(), "normalizer '", name,
              "': options must be a JSON object, got ", j.dump());
  for (const auto& [key, value] : j.items()) {
    (void)value;
    if (key == "name") continue;
    EMGAN_CHECK(ConfigError, std::find(allowed.begin(), allowed.end(), key) != allowed.end(),
                "normalizer '", name, "': unknown option '", key, "'",
                allowed.empty() ? " (it has none)" : " (known: " + join(allowed) + ")");
  }
}

class NoneNormalizer : public Normalizer {
 public:
  std::string name() const override { return "none"; }
  Normalized forward(const torch::Tensor& image) const override {
    return {image, compute_stats(image, {})};
  }
  Normalized forward_batch(const torch::Tensor& batch) const override { return forward(batch); }
  NormStats dataset_stats() const override { return {torch::zeros({}), torch::ones({}), {}}; }
  Json to_json() const override { return Json{{"name", name()}}; }

 protected:
  NormStats compute_stats(const torch::Tensor& x, const std::vector<int64_t>&) const override {
    auto o = torch::TensorOptions().dtype(x.scalar_type()).device(x.device());
    return {torch::zeros({}, o), torch::ones({}, o), {}};
  }
};

class MinMaxNormalizer : public Normalizer {
 public:
  std::string name() const override { return "minmax"; }
  Normalized forward(const torch::Tensor& image) const override {
    auto st = compute_stats(image, {});
    return {apply(image, st), st};
  }
  Json to_json() const override { return Json{{"name", name()}}; }

 protected:
  NormStats compute_stats(const torch::Tensor& x, const std::vector<int64_t>& dims) const override {
    const auto lo = reduce_min(x, dims);
    return {lo, safe_scale(reduce_max(x, dims) - lo), {}};
  }
};

class MeanStdNormalizer : public Normalizer {
 public:
  std::string name() const override { return "meanstd"; }
  Normalized forward(const torch::Tensor& image) const override {
    auto st = compute_stats(image, {});
    return {apply(image, st), st};
  }
  Json to_json() const override { return Json{{"name", name()}}; }

 protected:
  NormStats compute_stats(const torch::Tensor& x, const std::vector<int64_t>& dims) const override {
    return {reduce_mean(x, dims), safe_scale(reduce_std(x, dims)), {}};
  }
};

/// z = log(x - min + eps * (max - min)), then min-max of z to [0, 1].
class LogNormalizer : public Normalizer {
 public:
  explicit LogNormalizer(double eps) : eps_(eps) {
    EMGAN_CHECK(ConfigError, eps > 0, "normalizer 'log': eps must be > 0, got ", eps);
  }
  std::string name() const override { return "log"; }
  Normalized forward(const torch::Tensor& image) const override {
    auto st = compute_stats(image, {});
    return {apply(image, st), st};
  }
  Json to_json() const override { return Json{{"name", name()}, {"eps", eps_}}; }

 protected:
  NormStats compute_stats(const torch::Tensor& x, const std::vector<int64_t>& dims) const override {
    const auto lo = reduce_min(x, dims);
    auto range = reduce_max(x, dims) - lo;
    range = torch::where(range > 0, range, torch::ones_like(range));
    const auto shift = lo - eps_ * range;
    const auto z = torch::log(x - shift);
    const auto zlo = reduce_min(z, dims);
    return {zlo, safe_scale(reduce_max(z, dims) - zlo), shift};
  }

 private:
  double eps_;
};

/// Shared by the dataset-level strategies: fixed offset/scale fitted by fit().
class DatasetNormalizer : public Normalizer {
 public:
  bool needs_fit() const override { return true; }
  bool is_fitted() const override { return fitted_; }
  Normalized forward(const torch::Tensor& image) const override {
    auto st = compute_stats(image, {});
    return {apply(image, st), st};
  }
  Normalized forward_batch(const torch::Tensor& batch) const override { return forward(batch); }
  NormStats dataset_stats() const override {
    EMGAN_CHECK(ConfigError, fitted_, "normalizer '", name(),
                "' is used before fit() on the training images");
    return {torch::full({}, offset_), torch::full({}, scale_), {}};
  }
  void set_fitted(double offset, double scale) {
    EMGAN_CHECK(ConfigError, scale > 0, "normalizer '", name(), "': fitted scale must be > 0, got ",
                scale);
    offset_ = offset;
    scale_ = scale;
    fitted_ = true;
  }
  Json fitted_json() const {
    Json j{{"name", name()}, {"fitted", fitted_}};
    if (fitted_) {
      j["offset_value"] = offset_;
      j["scale_value"] = scale_;
    }
    return j;
  }
  void load_fitted(const Json& j) {
    if (j.value("fitted", false))
      set_fitted(j.at("offset_value").get<double>(), j.at("scale_value").get<double>());
  }

 protected:
  NormStats compute_stats(const torch::Tensor& x, const std::vector<int64_t>&) const override {
    EMGAN_CHECK(ConfigError, fitted_, "normalizer '", name(),
                "' is used before fit() on the training images");
    auto o = torch::TensorOptions().dtype(x.scalar_type()).device(x.device());
    return {torch::full({}, offset_, o), torch::full({}, scale_, o), {}};
  }
  double offset_ = 0.0;
  double scale_ = 1.0;
  bool fitted_ = false;
};

class DatasetScaleNormalizer : public DatasetNormalizer {
 public:
  explicit DatasetScaleNormalizer(bool offset) : use_offset_(offset) {}
  std::string name() const override { return "dataset_scale"; }
  void fit(const std::vector<torch::Tensor>& train_images) override {
    Normalizer::fit(train_images);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& t : train_images) {
      lo = std::min(lo, t.min().item<double>());
      hi = std::max(hi, t.max().item<double>());
    }
    const double offset = use_offset_ ? lo : 0.0;
    set_fitted(offset, hi - offset > 0 ? hi - offset : 1.0);
  }
  Json to_json() const override {
    Json j = fitted_json();
    j["offset"] = use_offset_;
    return j;
  }

 private:
  bool use_offset_;
};

class DatasetMeanStdNormalizer : public DatasetNormalizer {
 public:
  std::string name() const override { return "dataset_meanstd"; }
  void fit(const std::vector<torch::Tensor>& train_images) override {
    Normalizer::fit(train_images);
    double n = 0, sum = 0, sum2 = 0;
    for (const auto& t : train_images) {
      const auto d = t.to(torch::kFloat64);
      n += static_cast<double>(d.numel());
      sum += d.sum().item<double>();
      sum2 += (d * d).sum().item<double>();
    }
    const double mean = sum / n;
    const double var = std::max(0.0, sum2 / n - mean * mean);
    set_fitted(mean, var > 0 ? std::sqrt(var) : 1.0);
  }
  Json to_json() const override { return fitted_json(); }
};

}  // namespace

void Normalizer::fit(const std::vector<torch::Tensor>& train_images) {
  EMGAN_CHECK(ConfigError, !train_images.empty(), "normalizer '", name(),
              "': fit() got no training images");
  for (const auto& t : train_images) {
    EMGAN_CHECK(ConfigError, t.defined() && t.numel() > 0, "normalizer '", name(),
                "': fit() got an empty image");
  }
}

Normalized Normalizer::forward_batch(const torch::Tensor& batch) const {
  EMGAN_CHECK(ConfigError, batch.dim() >= 2, "normalizer '", name(),
              "': forward_batch expects [N, ...], got ", batch.dim(), " dims");
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < batch.dim(); ++d) dims.push_back(d);
  auto st = compute_stats(batch, dims);
  return {apply(batch, st), st};
}

torch::Tensor Normalizer::apply(const torch::Tensor& x, const NormStats& st) const {
  const torch::Tensor g = st.log_shift.defined() ? torch::log(x - st.log_shift) : x;
  return (g - st.offset) / st.scale;
}

torch::Tensor Normalizer::inverse(const torch::Tensor& y, const NormStats& st) const {
  EMGAN_CHECK(ConfigError, st.offset.defined() && st.scale.defined(), "normalizer '", name(),
              "': inverse needs the stats returned by forward()");
  const auto dev = y.device();
  const torch::Tensor g = y * st.scale.to(dev) + st.offset.to(dev);
  return st.log_shift.defined() ? torch::exp(g) + st.log_shift.to(dev) : g;
}

NormStats Normalizer::dataset_stats() const {
  throw ConfigError("normalizer '" + name() +
                    "' has per-image statistics: pass the stats returned by forward()");
}

Registry<NormalizerPtr, const Json&>& normalizer_registry() {
  static Registry<NormalizerPtr, const Json&> reg = [] {
    Registry<NormalizerPtr, const Json&> r("normalizer");
    r.add(
        "none",
        [](const Json& j) {
          check_options(j, {}, "none");
          return NormalizerPtr(new NoneNormalizer());
        },
        "identity");
    r.add(
        "minmax",
        [](const Json& j) {
          check_options(j, {}, "minmax");
          return NormalizerPtr(new MinMaxNormalizer());
        },
        "per image: (x - min) / (max - min), in [0, 1]");
    r.add(
        "meanstd",
        [](const Json& j) {
          check_options(j, {}, "meanstd");
          return NormalizerPtr(new MeanStdNormalizer());
        },
        "per image: (x - mean) / std");
    r.add(
        "log",
        [](const Json& j) {
          check_options(j, {"eps"}, "log");
          return NormalizerPtr(new LogNormalizer(j.value("eps", 1e-3)));
        },
        "per image: log(x - min + eps * (max - min)), min-max scaled to [0, 1]; eps default 1e-3");
    r.add(
        "dataset_scale",
        [](const Json& j) {
          check_options(j, {"offset", "fitted", "offset_value", "scale_value"}, "dataset_scale");
          auto n = std::make_shared<DatasetScaleNormalizer>(j.value("offset", false));
          n->load_fitted(j);
          return NormalizerPtr(n);
        },
        "fitted on training images: (x - lo) / (hi - lo), lo = 0 (or the min with offset=true), hi "
        "= the max");
    r.add(
        "dataset_meanstd",
        [](const Json& j) {
          check_options(j, {"fitted", "offset_value", "scale_value"}, "dataset_meanstd");
          auto n = std::make_shared<DatasetMeanStdNormalizer>();
          n->load_fitted(j);
          return NormalizerPtr(n);
        },
        "fitted on training images: (x - mean) / std over all their pixels");
    return r;
  }();
  return reg;
}

NormalizerPtr make_normalizer(const std::string& name, const Json& options) {
  try {
    return normalizer_registry().create(name, options);
  } catch (const Json::exception& e) {
    throw ConfigError("normalizer '" + name + "': bad option in " + options.dump() + ": " +
                      e.what());
  }
}

NormalizerPtr normalizer_from_json(const Json& j) {
  EMGAN_CHECK(ConfigError, j.is_object() && j.contains("name") && j["name"].is_string(),
              "normalizer JSON must be an object with a \"name\", got ", j.dump());
  return make_normalizer(j["name"].get<std::string>(), j);
}

}  // namespace emgan::data
