// ALRC (alrc.h) and the image pool (image_pool.h).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/losses/alrc.h"
#include "emgan/losses/image_pool.h"

namespace emgan::losses {

// --- ALRC ------------------------------------------------------------------------------

Alrc::Alrc(AlrcOptions options) : options_(options) {
  const auto& o = options_;
  EMGAN_CHECK(ConfigError, std::isfinite(o.n_sigma) && o.n_sigma > 0, "alrc: n_sigma ", o.n_sigma,
              " is invalid; expected > 0");
  EMGAN_CHECK(ConfigError, o.decay >= 0 && o.decay < 1, "alrc: decay ", o.decay,
              " is invalid; expected [0, 1)");
  EMGAN_CHECK(ConfigError,
              std::isfinite(o.mu1_init) && std::isfinite(o.mu2_init) &&
                  o.mu2_init >= o.mu1_init * o.mu1_init,
              "alrc: mu2_init ", o.mu2_init,
              " must be finite and >= mu1_init^2 = ", o.mu1_init * o.mu1_init,
              " (a variance cannot be negative)");
  state_.mu1 = o.mu1_init;
  state_.mu2 = o.mu2_init;
}

double Alrc::threshold() const {
  const double variance = std::max(state_.mu2 - state_.mu1 * state_.mu1, 0.0);
  return state_.mu1 + options_.n_sigma * std::sqrt(variance);
}

torch::Tensor Alrc::operator()(const torch::Tensor& loss) {
  EMGAN_CHECK(ConfigError, loss.defined() && loss.numel() == 1,
              "alrc: expected a scalar loss, got shape ",
              (loss.defined() ? loss.sizes() : torch::IntArrayRef{}));
  const double value = loss.detach().to(torch::kDouble).item<double>();
  if (!std::isfinite(value)) return loss;
  const double limit = threshold();
  torch::Tensor out = loss;
  double clipped_value = value;
  if (value > limit && limit > 0) {
    const double factor = limit / value;  // a constant: no gradient flows through it
    out = loss * factor;
    clipped_value = limit;
    ++state_.clipped;
  }
  const double v = options_.update_with_clipped ? clipped_value : value;
  const double d = options_.decay;
  state_.mu1 = d * state_.mu1 + (1 - d) * v;
  state_.mu2 = d * state_.mu2 + (1 - d) * v * v;
  ++state_.steps;
  return out;
}

void Alrc::load_state(const AlrcState& state) {
  EMGAN_CHECK(ConfigError, std::isfinite(state.mu1) && std::isfinite(state.mu2) && state.mu2 >= 0,
              "alrc: saved state mu1=", state.mu1, " mu2=", state.mu2,
              " is invalid; expected finite, mu2 >= 0");
  EMGAN_CHECK(ConfigError, state.steps >= 0 && state.clipped >= 0 && state.clipped <= state.steps,
              "alrc: saved state steps=", state.steps, " clipped=", state.clipped, " is invalid");
  state_ = state;
}

// --- ImagePool ----------------------------------------------------------------------------

ImagePool::ImagePool(ImagePoolOptions options) : options_(options), rng_(options.seed) {
  EMGAN_CHECK(ConfigError, options_.pool_size >= 0, "image pool: pool_size ", options_.pool_size,
              " is invalid; expected >= 0");
  EMGAN_CHECK(ConfigError, options_.swap_probability >= 0 && options_.swap_probability <= 1,
              "image pool: swap_probability ", options_.swap_probability,
              " is invalid; expected [0, 1]");
}

double ImagePool::uniform() {
  // 53 random bits -> [0, 1), the same on every standard library.
  return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);
}

torch::Tensor ImagePool::query(const torch::Tensor& images) {
  EMGAN_CHECK(ConfigError, images.defined() && images.dim() >= 1,
              "image pool: expected a batch [N, ...]");
  auto batch = images.detach();
  if (options_.pool_size == 0 || batch.size(0) == 0) return batch;
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<size_t>(batch.size(0)));
  for (int64_t i = 0; i < batch.size(0); ++i) {
    auto image = batch[i];
    if (size() < options_.pool_size) {
      images_.push_back(image.clone());
      out.push_back(image);
    } else if (uniform() < options_.swap_probability) {
      const auto id = static_cast<size_t>(rng_() % static_cast<uint64_t>(options_.pool_size));
      auto stored = images_[id].to(image.device(), image.scalar_type());
      EMGAN_CHECK(ConfigError, stored.sizes() == image.sizes(),
                  "image pool: a stored image of shape ", stored.sizes(),
                  " does not match the batch's image shape ", image.sizes());
      images_[id] = image.clone();
      out.push_back(stored);
    } else {
      out.push_back(image);
    }
  }
  return torch::stack(out);
}

namespace {

torch::Tensor bytes_tensor(const std::string& s) {
  auto t =
      torch::empty({static_cast<int64_t>(s.size())}, torch::TensorOptions().dtype(torch::kUInt8));
  std::copy(s.begin(), s.end(), reinterpret_cast<char*>(t.data_ptr<uint8_t>()));
  return t;
}

torch::Tensor read_key(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor t;
  try {
    archive.read(key, t);
  } catch (const c10::Error&) {
    throw IoError("image pool: checkpoint has no readable entry '" + key + "'");
  }
  return t;
}

}  // namespace

void ImagePool::save(torch::serialize::OutputArchive& archive, const std::string& prefix) const {
  std::ostringstream rng;
  rng << rng_;
  Json state = {{"options", options_}, {"count", size()}, {"rng", rng.str()}};
  archive.write(prefix + "_state", bytes_tensor(state.dump()));
  for (size_t i = 0; i < images_.size(); ++i) {
    archive.write(prefix + "_image_" + std::to_string(i), images_[i].cpu());
  }
}

void ImagePool::load(torch::serialize::InputArchive& archive, const std::string& prefix) {
  auto bytes = read_key(archive, prefix + "_state").contiguous().to(torch::kUInt8);
  const auto* p = reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>());
  Json state;
  int64_t count = 0;
  std::mt19937_64 rng;
  try {
    state = Json::parse(std::string(p, p + bytes.numel()));
    count = state.at("count").get<int64_t>();
    std::istringstream is(state.at("rng").get<std::string>());
    is >> rng;
    EMGAN_CHECK(IoError, !is.fail(), "image pool: bad generator state in '", prefix, "_state'");
  } catch (const Json::exception& e) {
    throw IoError("image pool: entry '" + prefix + "_state' is not a saved pool state (" +
                  e.what() + ")");
  }
  EMGAN_CHECK(IoError, count >= 0 && count <= options_.pool_size, "image pool: saved pool holds ",
              count, " images; this pool takes at most ", options_.pool_size);
  std::vector<torch::Tensor> images;
  for (int64_t i = 0; i < count; ++i)
    images.push_back(read_key(archive, prefix + "_image_" + std::to_string(i)));
  images_ = std::move(images);
  rng_ = rng;
}

}  // namespace emgan::losses
