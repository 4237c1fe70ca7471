#include "emgan/models/restorer.h"

#include <algorithm>
#include <map>

#include "emgan/core/error.h"
#include "emgan/nn/conv_transpose.h"
#include "emgan/nn/weight_norms.h"

namespace emgan::models {

namespace {

namespace tnn = torch::nn;

/// Appends a conv (weight-normalised when `wn`) and optionally a LeakyReLU to `s`.
void append_conv(tnn::Sequential& s, int64_t in, int64_t out, int64_t k, int64_t stride, bool wn, double slope,
                 bool act = true) {
  auto c = tnn::Conv2d(tnn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2));
  if (wn)
    s->push_back(emgan::nn::WeightNorm(c));
  else
    s->push_back(c);
  if (act) s->push_back(tnn::LeakyReLU(tnn::LeakyReLUOptions().negative_slope(slope)));
}

/// A conv (+ LeakyReLU) as its own Sequential.
tnn::Sequential conv(int64_t in, int64_t out, int64_t k, int64_t stride, bool wn, double slope, bool act = true) {
  tnn::Sequential s;
  append_conv(s, in, out, k, stride, wn, slope, act);
  return s;
}

/// 4x4 stride-2 transposed conv (exact doubling) + LeakyReLU.
tnn::Sequential upconv(int64_t in, int64_t out, bool wn, double slope) {
  tnn::Sequential s;
  const auto options = tnn::ConvTranspose2dOptions(in, out, 4).stride(2).padding(1);
  if (wn)
    s->push_back(emgan::nn::WeightNorm(tnn::ConvTranspose2d(options)));
  else
    s->push_back(emgan::nn::FastConvTranspose2d(options));
  s->push_back(tnn::LeakyReLU(tnn::LeakyReLUOptions().negative_slope(slope)));
  return s;
}

/// Residual block: x + conv(lrelu(conv(x))) (the second conv without activation).
tnn::Sequential res_block(int64_t w, bool wn, double slope) {
  tnn::Sequential s;
  append_conv(s, w, w, 3, 1, wn, slope, true);
  append_conv(s, w, w, 3, 1, wn, slope, false);
  return s;
}

torch::Tensor run_res(tnn::ModuleList& blocks, torch::Tensor x, double slope) {
  for (auto& b : *blocks) x = torch::leaky_relu(x + b->as<tnn::Sequential>()->forward(x), slope);
  return x;
}

/// Zeroes the last module of `s` so it outputs 0: its bias, and its weight-norm
/// magnitude (`weight_g`) or plain weight; the direction `weight_v` is kept (a zero
/// direction would make the normalised weight 0/0).
void zero_last(tnn::Sequential& s) {
  torch::NoGradGuard no_grad;
  for (auto& p : s->ptr(s->size() - 1)->named_parameters()) {
    const auto& k = p.key();
    const auto ends = [&k](const std::string& e) {
      return k.size() >= e.size() && k.compare(k.size() - e.size(), e.size(), e) == 0;
    };
    if (ends("weight_g") || ends("bias") || k == "weight" || ends(".weight")) p.value().zero_();
  }
}

}  // namespace

void RestorerOptions::validate() const {
  EMGAN_CHECK(ConfigError, in_channels >= 1, "restorer: in_channels ", in_channels, " must be >= 1");
  EMGAN_CHECK(ConfigError, !inner_widths.empty(), "restorer: inner_widths must not be empty");
  for (auto w : inner_widths) EMGAN_CHECK(ConfigError, w >= 1, "restorer: inner width ", w, " must be >= 1");
  EMGAN_CHECK(ConfigError, outer_width >= 1, "restorer: outer_width ", outer_width, " must be >= 1");
  EMGAN_CHECK(ConfigError, inner_res_blocks >= 0 && outer_res_blocks >= 0, "restorer: residual block counts ",
              inner_res_blocks, ", ", outer_res_blocks, " must be >= 0");
  EMGAN_CHECK(ConfigError, !residual || in_channels >= 2, "restorer: residual needs in_channels >= 2 (inputs + ",
              "base estimate), got ", in_channels);
  EMGAN_CHECK(ConfigError, slope >= 0.0 && slope < 1.0, "restorer: slope ", slope, " must be in [0, 1)");
}

RestorerImpl::RestorerImpl(RestorerOptions o) : options(std::move(o)) {
  options.validate();
  const bool wn = options.weight_norm;
  const double sl = options.slope;
  const auto& w = options.inner_widths;
  for (size_t i = 0; i < w.size(); ++i) {
    auto s = i == 0 ? conv(options.in_channels, w[0], 5, 1, wn, sl) : conv(w[i - 1], w[i], 3, 2, wn, sl);
    down_.push_back(register_module("inner_down" + std::to_string(i), s));
  }
  inner_res_ = register_module("inner_res", tnn::ModuleList());
  for (int64_t i = 0; i < options.inner_res_blocks; ++i) inner_res_->push_back(res_block(w.back(), wn, sl));
  for (size_t i = w.size() - 1; i >= 1; --i)
    up_.push_back(register_module("inner_up" + std::to_string(i), upconv(w[i], w[i - 1], wn, sl)));
  tnn::Sequential aux;
  append_conv(aux, w[0], w[0], 3, 1, wn, sl, true);
  append_conv(aux, w[0], 1, 3, 1, wn, sl, false);
  aux_ = register_module("aux", aux);
  const auto ow = options.outer_width;
  outer_in_ = register_module("outer_in", conv(options.in_channels, ow, 5, 1, wn, sl));
  outer_down_ = register_module("outer_down", conv(ow, 2 * ow, 3, 2, wn, sl));
  outer_merge_ = register_module("outer_merge", conv(2 * ow + w[0], 2 * ow, 3, 1, wn, sl));
  outer_res_ = register_module("outer_res", tnn::ModuleList());
  for (int64_t i = 0; i < options.outer_res_blocks; ++i) outer_res_->push_back(res_block(2 * ow, wn, sl));
  outer_up_ = register_module("outer_up", upconv(2 * ow, ow, wn, sl));
  outer_out_ = register_module("outer_out", conv(ow, 1, 5, 1, wn, sl, false));
  if (options.residual) {
    zero_last(aux_);
    zero_last(outer_out_);
  }
}

int64_t RestorerImpl::stride() const { return int64_t{2} << (options.inner_widths.size() - 1); }

RestorerOutput RestorerImpl::forward_both(const torch::Tensor& x) {
  EMGAN_CHECK(ConfigError, x.dim() == 4 && x.size(1) == options.in_channels, "restorer: input must be [N, ",
              options.in_channels, ", H, W], got ", x.sizes());
  const auto s = stride();
  EMGAN_CHECK(ConfigError, x.size(2) % s == 0 && x.size(3) % s == 0, "restorer: input ", x.size(3), "x", x.size(2),
              " px must have sides divisible by ", s, " (pad the scan, or use a crop that is)");
  auto half_in = torch::avg_pool2d(x, 2);
  std::vector<torch::Tensor> skips;
  auto h = half_in;
  for (auto& d : down_) {
    h = d->forward(h);
    skips.push_back(h);
  }
  h = run_res(inner_res_, h, options.slope);
  for (size_t i = 0; i < up_.size(); ++i) h = up_[i]->forward(h) + skips[skips.size() - 2 - i];
  RestorerOutput out;
  out.half = aux_->forward(h);
  auto f0 = outer_in_->forward(x);
  auto g = outer_down_->forward(f0);
  g = outer_merge_->forward(torch::cat({g, h}, 1));
  g = run_res(outer_res_, g, options.slope);
  g = outer_up_->forward(g) + f0;
  out.full = outer_out_->forward(g);
  if (options.residual) {
    const auto base = x.narrow(1, options.in_channels - 1, 1);
    out.full = out.full + base;
    out.half = out.half + torch::avg_pool2d(base, 2);
  }
  return out;
}

torch::Tensor RestorerImpl::forward(const torch::Tensor& x) { return forward_both(x).full; }

void CropDiscriminatorOptions::validate() const {
  EMGAN_CHECK(ConfigError, in_channels >= 1, "crop discriminator: in_channels ", in_channels, " must be >= 1");
  EMGAN_CHECK(ConfigError, !scales.empty(), "crop discriminator: scales must not be empty");
  for (auto s : scales)
    EMGAN_CHECK(ConfigError, s > 0.0 && s <= 1.0, "crop discriminator: scale ", s, " must be in (0, 1]");
  EMGAN_CHECK(ConfigError, size >= 8, "crop discriminator: size ", size, " px must be >= 8");
  EMGAN_CHECK(ConfigError, width >= 1, "crop discriminator: width ", width, " must be >= 1");
  EMGAN_CHECK(ConfigError, layers >= 1, "crop discriminator: layers ", layers, " must be >= 1");
}

CropDiscriminatorImpl::CropDiscriminatorImpl(CropDiscriminatorOptions o) : options(std::move(o)) {
  options.validate();
  for (size_t k = 0; k < options.scales.size(); ++k) {
    tnn::Sequential s;
    int64_t in = options.in_channels, out = options.width;
    for (int64_t l = 0; l < options.layers; ++l) {
      s->push_back(emgan::nn::SpectralNorm(tnn::Conv2d(tnn::Conv2dOptions(in, out, 4).stride(2).padding(1))));
      s->push_back(tnn::LeakyReLU(tnn::LeakyReLUOptions().negative_slope(options.slope)));
      in = out;
      out = std::min(out * 2, options.width * 8);
    }
    s->push_back(tnn::AdaptiveAvgPool2d(tnn::AdaptiveAvgPool2dOptions(1)));
    s->push_back(tnn::Flatten());
    s->push_back(emgan::nn::SpectralNorm(tnn::Linear(in, 1)));
    nets_.push_back(register_module("scale" + std::to_string(k), s));
  }
}

int64_t CropDiscriminatorImpl::crop_side(size_t k, int64_t side) const {
  return std::clamp<int64_t>(static_cast<int64_t>(std::lround(options.scales.at(k) * static_cast<double>(side))), 1,
                             side);
}

std::vector<std::array<int64_t, 2>> CropDiscriminatorImpl::sample_corners(int64_t height, int64_t width) const {
  std::vector<std::array<int64_t, 2>> corners;
  const auto side = std::min(height, width);
  for (size_t k = 0; k < options.scales.size(); ++k) {
    const auto c = crop_side(k, side);
    const auto r = torch::randint(height - c + 1, {1}, torch::kInt64).item<int64_t>();
    const auto q = torch::randint(width - c + 1, {1}, torch::kInt64).item<int64_t>();
    corners.push_back({r, q});
  }
  return corners;
}

std::vector<torch::Tensor> CropDiscriminatorImpl::forward(const torch::Tensor& x,
                                                          const std::vector<std::array<int64_t, 2>>& corners) {
  EMGAN_CHECK(ConfigError, x.dim() == 4 && x.size(1) == options.in_channels, "crop discriminator: input must be [N, ",
              options.in_channels, ", H, W], got ", x.sizes());
  EMGAN_CHECK(ConfigError, corners.size() == nets_.size(), "crop discriminator: ", corners.size(),
              " crop corners for ", nets_.size(), " scales");
  const auto side = std::min(x.size(2), x.size(3));
  std::vector<torch::Tensor> out;
  for (size_t k = 0; k < nets_.size(); ++k) {
    const auto c = crop_side(k, side);
    const auto [r, q] = corners[k];
    EMGAN_CHECK(ConfigError, r >= 0 && q >= 0 && r + c <= x.size(2) && q + c <= x.size(3),
                "crop discriminator: crop at (", r, ", ", q, ") of side ", c, " leaves the image ", x.sizes());
    auto crop = x.slice(2, r, r + c).slice(3, q, q + c);
    if (c >= options.size)
      crop = torch::adaptive_avg_pool2d(crop, {options.size, options.size});
    else
      crop = torch::nn::functional::interpolate(crop, torch::nn::functional::InterpolateFuncOptions()
                                                          .size(std::vector<int64_t>{options.size, options.size})
                                                          .mode(torch::kBilinear)
                                                          .align_corners(false));
    out.push_back(nets_[k]->forward(crop));
  }
  return out;
}

void save_restorer(Restorer& model, const fs::path& dir, const Json& meta) {
  ensure_dir(dir);
  atomic_write(dir / "restorer.pt", [&](const fs::path& tmp) {
    try {
      torch::serialize::OutputArchive archive;
      model->save(archive);
      archive.save_to(tmp.string());
    } catch (const c10::Error& e) {
      throw IoError((dir / "restorer.pt").string() + ": cannot write the restorer (" + e.what_without_backtrace() +
                    ")");
    }
  });
  Json j = {{"kind", "emgan-restorer"}, {"version", 1}, {"options", model->options}, {"meta", meta}};
  save_json_file(dir / "restorer.json", j);
}

LoadedRestorer load_restorer(const fs::path& path, const torch::Device& device) {
  const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
  const auto json_path = dir / "restorer.json";
  EMGAN_CHECK(IoError, fs::exists(json_path), path.string(), ": no restorer.json here; expected a folder written by ",
              "`emgan restore train` (RUN/model)");
  const Json j = load_json_file(json_path);
  EMGAN_CHECK(IoError, j.value("kind", "") == "emgan-restorer", json_path.string(), ": kind '", j.value("kind", ""),
              "' is not emgan-restorer");
  RestorerOptions o;
  try {
    o = j.at("options").get<RestorerOptions>();
  } catch (const Json::exception& e) {
    throw IoError(json_path.string() + ": bad restorer options: " + e.what());
  }
  LoadedRestorer out;
  out.model = Restorer(o);
  out.model->to(device);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : out.model->named_parameters()) shapes[p.key()] = p.value().sizes().vec();
  for (const auto& b : out.model->named_buffers()) shapes[b.key()] = b.value().sizes().vec();
  const auto weights = dir / "restorer.pt";
  EMGAN_CHECK(IoError, fs::is_regular_file(weights), weights.string(), ": no such weights file");
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(weights.string(), device);
    out.model->load(archive);
  } catch (const c10::Error& e) {
    throw IoError(weights.string() + ": cannot read the restorer weights (" + e.what_without_backtrace() + ")");
  }
  for (const auto& p : out.model->named_parameters())
    EMGAN_CHECK(IoError, p.value().sizes().vec() == shapes[p.key()], weights.string(), ": tensor ", p.key(),
                " has shape ", p.value().sizes(), ", the options in restorer.json need ", c10::IntArrayRef(shapes[p.key()]));
  for (const auto& b : out.model->named_buffers())
    EMGAN_CHECK(IoError, b.value().sizes().vec() == shapes[b.key()], weights.string(), ": buffer ", b.key(),
                " has the wrong shape ", b.value().sizes());
  out.model->eval();
  out.meta = j.value("meta", Json::object());
  return out;
}

}  // namespace emgan::models
