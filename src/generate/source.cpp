#include "emgan/generate/source.h"

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/io/image.h"
#include "emgan/micro/phases.h"

namespace emgan::generate {

namespace {

int64_t random_index(int64_t n) { return n <= 1 ? 0 : torch::randint(n, {1}, torch::kLong).item<int64_t>(); }

torch::Tensor crop_of(const torch::Tensor& image, int64_t size, const std::string& what) {
  const int64_t h = image.size(-2), w = image.size(-1);
  EMGAN_CHECK(ConfigError, h >= size && w >= size, what, ": ", h, " x ", w, " is smaller than the ", size, " x ",
              size, " crops the model trains on");
  const int64_t y = random_index(h - size + 1), x = random_index(w - size + 1);
  return image.narrow(-2, y, size).narrow(-1, x, size);
}

}  // namespace

TrainingData::TrainingData(std::vector<torch::Tensor> items, Encoding encoding)
    : items_(std::move(items)), encoding_(std::move(encoding)) {
  EMGAN_CHECK(ConfigError, !items_.empty(), "training data: no images");
  for (const auto& t : items_)
    EMGAN_CHECK(ConfigError, (t.dim() == 3 || t.dim() == 4) && t.size(0) == encoding_.channels,
                "training data: tensor of shape ", t.sizes(), " does not match [", encoding_.channels,
                ", (D,) H, W]");
  EMGAN_CHECK(ConfigError, items_.size() == 1 || items_.front().dim() == 3,
              "training data: a volume must be the only training source");
  encoding_.volume = is_volume();
}

bool TrainingData::is_volume() const { return items_.size() == 1 && items_.front().dim() == 4; }

torch::Tensor TrainingData::encode(const torch::Tensor& image, const Encoding& enc, const std::string& source) {
  const int64_t c = image.size(0);
  if (enc.kind == "phases") {
    auto grey_values = micro::squeeze_channels(image, source);
    if (!enc.thresholds.empty()) {
      const auto t = torch::tensor(enc.thresholds, torch::kFloat);
      return micro::one_hot(torch::bucketize(grey_values.to(torch::kFloat), t), enc.channels);
    }
    auto labels = torch::full(grey_values.sizes(), -1, torch::kLong);
    for (size_t p = 0; p < enc.values.size(); ++p) labels.masked_fill_(grey_values == enc.values[p], int64_t(p));
    const auto unknown = (labels < 0).sum().item<int64_t>();
    std::vector<std::string> known;
    for (double v : enc.values) known.push_back(std::to_string(v));
    EMGAN_CHECK(ConfigError, unknown == 0, source, ": ", unknown, " samples hold values that are not among the ",
                "phase values (", join(known), ")");
    return micro::one_hot(labels, enc.channels);
  }
  EMGAN_CHECK(ConfigError, enc.kind == "grey" || c >= 3, source, ": a colour model needs 3 channels, got ", c);
  auto x = enc.kind == "colour" ? image.narrow(0, 0, 3) : (c == 1 ? image : image.narrow(0, 0, std::min<int64_t>(c, 3)).mean(0, true));
  return ((x - enc.low) / (enc.high - enc.low)).clamp(0.0, 1.0);
}

TrainingData TrainingData::load(const std::vector<std::string>& paths, int64_t phases, bool grey,
                                const torch::Device& device) {
  EMGAN_CHECK(ConfigError, !paths.empty(), "generate: --data needs at least one image or volume");
  EMGAN_CHECK(ConfigError, !(grey && phases > 0), "generate: --grey and --phases ", phases, " exclude each other");
  Encoding enc;
  std::vector<torch::Tensor> items;
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto& path = paths[i];
    auto image = io::read_image(path).data;
    const int64_t c = image.size(0);
    const bool colour = (c == 3 || c == 4) && phases == 0;
    if (i == 0) {
      if (grey || colour) {
        enc.kind = (colour && !grey) ? "colour" : "grey";
        enc.channels = enc.kind == "colour" ? 3 : 1;
        enc.low = image.min().item<double>();
        enc.high = image.max().item<double>();
        EMGAN_CHECK(ConfigError, enc.high > enc.low, path, ": the image is constant (", enc.low,
                    "); nothing to learn");
      } else {
        micro::PhaseMap map;
        try {
          map = micro::to_phases(micro::squeeze_channels(image, path), phases, path);
        } catch (const ConfigError& e) {
          throw ConfigError(std::string(e.what()) +
                            " -- or pass --grey to model the intensities instead of phases");
        }
        enc.kind = "phases";
        enc.values = map.values;
        enc.channels = map.phases();
        if (map.thresholded) enc.thresholds = map.thresholds;
        if (map.thresholded)
          log_info(path + ": segmented into " + std::to_string(map.phases()) + " phases by Otsu thresholds");
        items.push_back(micro::one_hot(map.labels, enc.channels).to(device));
        continue;
      }
    }
    items.push_back(encode(image, enc, path).to(device));
  }
  enc.volume = items.size() == 1 && items.front().dim() == 4;
  TrainingData data(std::move(items), enc);
  data.paths_ = paths;
  return data;
}

torch::Tensor TrainingData::crops(int64_t axis, int64_t n, int64_t size) const {
  EMGAN_CHECK(ConfigError, axis >= 0 && axis <= 2, "training data: axis ", axis, " must be 0, 1 or 2");
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<size_t>(n));
  if (is_volume()) {
    const auto& v = items_.front();
    for (int64_t i = 0; i < n; ++i) {
      const auto slice = v.select(1 + axis, random_index(v.size(1 + axis)));
      out.push_back(crop_of(slice, size, "training volume slice"));
    }
  } else {
    const auto& image = items_.size() == 3 ? items_[static_cast<size_t>(axis)] : items_.front();
    for (int64_t i = 0; i < n; ++i) out.push_back(crop_of(image, size, "training image"));
  }
  return torch::stack(out);
}

torch::Tensor TrainingData::random_crops(int64_t n, int64_t size) const {
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < n; ++i) {
    const auto& item = items_[static_cast<size_t>(random_index(static_cast<int64_t>(items_.size())))];
    if (item.dim() == 4) {
      const int64_t axis = random_index(3);
      out.push_back(crop_of(item.select(1 + axis, random_index(item.size(1 + axis))), size, "training volume slice"));
    } else {
      out.push_back(crop_of(item, size, "training image"));
    }
  }
  return torch::stack(out);
}

std::vector<double> TrainingData::channel_means() const {
  std::vector<double> means(static_cast<size_t>(encoding_.channels), 0.0);
  double count = 0.0;
  for (const auto& t : items_) {
    const auto flat = t.reshape({t.size(0), -1});
    const auto sums = flat.sum(1).to(torch::kCPU, torch::kDouble);
    for (int64_t c = 0; c < t.size(0); ++c) means[static_cast<size_t>(c)] += sums[c].item<double>();
    count += static_cast<double>(flat.size(1));
  }
  for (auto& m : means) m /= count;
  return means;
}

torch::Tensor TrainingData::decode(const torch::Tensor& channels) const {
  if (encoding_.kind == "phases") {
    const auto labels = micro::labels_from_one_hot(channels);
    const auto values = torch::tensor(encoding_.values, torch::kFloat).to(channels.device());
    return values.index({labels});
  }
  return encoding_.low + channels * (encoding_.high - encoding_.low);
}

torch::Tensor augment_crops(const torch::Tensor& crops, const std::string& mode) {
  EMGAN_CHECK(ConfigError, mode == "none" || mode == "flips" || mode == "dihedral", "augment = '",
              mode, "' is not one of none, flips, dihedral");
  if (mode == "none") return crops;
  EMGAN_CHECK(ConfigError, crops.dim() == 4 && crops.size(2) == crops.size(3),
              "augment_crops: needs square crops ", "[N, C, S, S], got ", crops.sizes());
  const int64_t n = crops.size(0);
  // One draw of three bits per crop: flip rows, flip columns, transpose (dihedral).
  const auto draws = torch::randint(2, {n, 3}, torch::kLong);
  const auto bits = draws.accessor<int64_t, 2>();
  auto out = crops.clone();
  for (int64_t i = 0; i < n; ++i) {
    auto x = crops[i];
    if (bits[i][0] != 0) x = x.flip({1});
    if (bits[i][1] != 0) x = x.flip({2});
    if (mode == "dihedral" && bits[i][2] != 0) x = x.transpose(1, 2);
    out[i].copy_(x);
  }
  return out;
}

}  // namespace emgan::generate
