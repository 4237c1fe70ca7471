#include "emgan/restore/ops.h"

#include <cmath>

#include <torch/torch.h>

#include "emgan/core/config.h"
#include "emgan/core/error.h"

namespace emgan::restore {

const std::vector<std::string> kBaselineNames = {"nearest", "linear", "harmonic", "biharmonic"};

namespace {

void check_pair(const torch::Tensor& scan, const torch::Tensor& mask, const std::string& what) {
  EMGAN_CHECK(ConfigError, scan.dim() == 4 && scan.size(1) == 1, what, ": scan must be [N, 1, H, W], got ",
              scan.sizes());
  EMGAN_CHECK(ConfigError, mask.sizes() == scan.sizes(), what, ": mask ", mask.sizes(), " must match scan ",
              scan.sizes());
  auto per = (mask > 0.5).reshape({mask.size(0), -1}).sum(1);
  EMGAN_CHECK(ConfigError, per.min().item<int64_t>() > 0, what,
              ": a mask has no sampled pixel (all values <= 0.5); nothing to restore from");
}

/// Shifts `x` [N,1,H,W] so out[p] = x[p + (dy, dx)], `fill` outside.
torch::Tensor shifted(const torch::Tensor& x, int64_t dy, int64_t dx, double fill) {
  const auto h = x.size(2), w = x.size(3);
  if (std::abs(dy) >= h || std::abs(dx) >= w) return torch::full_like(x, fill);
  // pad order: (left, right, top, bottom)
  auto p = torch::constant_pad_nd(x, {std::max<int64_t>(0, -dx), std::max<int64_t>(0, dx), std::max<int64_t>(0, -dy),
                                      std::max<int64_t>(0, dy)},
                                  fill);
  const int64_t y0 = std::max<int64_t>(0, dy), x0 = std::max<int64_t>(0, dx);
  return p.slice(2, y0, y0 + h).slice(3, x0, x0 + w);
}

/// Neumann gradient operator L = Dx^T Dx + Dy^T Dy (positive semi-definite, -Laplacian).
torch::Tensor neg_laplacian(const torch::Tensor& u) {
  auto gx = u.slice(3, 1) - u.slice(3, 0, -1);
  auto gy = u.slice(2, 1) - u.slice(2, 0, -1);
  auto tx = torch::constant_pad_nd(gx, {0, 1, 0, 0}) - torch::constant_pad_nd(gx, {1, 0, 0, 0});
  auto ty = torch::constant_pad_nd(gy, {0, 0, 0, 1}) - torch::constant_pad_nd(gy, {0, 0, 1, 0});
  return -(tx + ty);
}

/// Conjugate gradients on f A f x = -f A b, A = L (order 1) or L L (order 2).
torch::Tensor cg_inpaint(const torch::Tensor& scan, const torch::Tensor& mask, int order, const BaselineOptions& o) {
  EMGAN_CHECK(ConfigError, o.max_iterations >= 0, "inpainting: max_iterations ", o.max_iterations, " must be >= 0");
  const auto opts = scan.options().dtype(torch::kFloat64);
  auto m = (mask > 0.5).to(opts);
  auto f = 1.0 - m;
  auto b = scan.to(torch::kFloat64) * m;
  auto apply = [&](const torch::Tensor& v) {
    auto r = neg_laplacian(v);
    return order == 2 ? neg_laplacian(r) : r;
  };
  auto x = normalized_convolution(scan, mask, 0.0).to(torch::kFloat64) * f;
  auto r = -f * apply(b + x);
  auto p = r.clone();
  auto rr = (r * r).sum();
  const double r0 = std::sqrt(rr.item<double>()) + 1e-300;
  for (int64_t it = 0; it < o.max_iterations; ++it) {
    auto ap = f * apply(p);
    auto alpha = rr / (p * ap).sum().clamp_min(1e-300);
    x = x + alpha * p;
    r = r - alpha * ap;
    auto rr_new = (r * r).sum();
    if (it % 20 == 19 && std::sqrt(rr_new.item<double>()) <= o.tolerance * r0) break;
    p = r + (rr_new / rr.clamp_min(1e-300)) * p;
    rr = rr_new;
  }
  return (b + f * x).to(scan.scalar_type());
}

}  // namespace

torch::Tensor gaussian_blur(const torch::Tensor& x, double sigma) {
  EMGAN_CHECK(ConfigError, sigma > 0.0, "gaussian blur: sigma ", sigma, " px must be > 0");
  EMGAN_CHECK(ConfigError, x.dim() == 4, "gaussian blur: input must be [N, C, H, W], got ", x.sizes());
  const auto c = x.size(1);
  const auto radius = static_cast<int64_t>(std::ceil(3.0 * sigma));
  auto k = torch::arange(-radius, radius + 1, x.options());
  k = torch::exp(-(k * k) / (2.0 * sigma * sigma));
  k = k / k.sum();
  auto kx = k.view({1, 1, 1, -1}).expand({c, 1, 1, 2 * radius + 1}).contiguous();
  auto ky = k.view({1, 1, -1, 1}).expand({c, 1, 2 * radius + 1, 1}).contiguous();
  namespace F = torch::nn::functional;
  auto y = F::conv2d(x, kx, F::Conv2dFuncOptions().padding({0, radius}).groups(c));
  return F::conv2d(y, ky, F::Conv2dFuncOptions().padding({radius, 0}).groups(c));
}

NearestSample nearest_sample(const torch::Tensor& mask) {
  EMGAN_CHECK(ConfigError, mask.dim() == 4 && mask.size(1) == 1, "nearest sample: mask must be [N, 1, H, W], got ",
              mask.sizes());
  auto per = (mask > 0.5).reshape({mask.size(0), -1}).sum(1);
  EMGAN_CHECK(ConfigError, per.min().item<int64_t>() > 0,
              "nearest sample: a mask has no sampled pixel (all values <= 0.5)");
  const auto h = mask.size(2), w = mask.size(3);
  const auto opts = mask.options().dtype(torch::kFloat32);
  constexpr double kFar = 1e6;
  auto rows = torch::arange(h, opts).view({1, 1, h, 1}).expand_as(mask);
  auto cols = torch::arange(w, opts).view({1, 1, 1, w}).expand_as(mask);
  auto on = mask > 0.5;
  auto sy = torch::where(on, rows, torch::full_like(rows, kFar));
  auto sx = torch::where(on, cols, torch::full_like(cols, kFar));
  auto best = (sy - rows).square() + (sx - cols).square();
  std::vector<int64_t> steps;
  for (int64_t k = std::max<int64_t>(1, std::max(h, w) / 2); k >= 1; k /= 2) steps.push_back(k);
  steps.push_back(1);
  for (auto k : steps) {
    for (int64_t dy : {-k, int64_t{0}, k}) {
      for (int64_t dx : {-k, int64_t{0}, k}) {
        if (dy == 0 && dx == 0) continue;
        auto cy = shifted(sy, dy, dx, kFar);
        auto cx = shifted(sx, dy, dx, kFar);
        auto d = (cy - rows).square() + (cx - cols).square();
        auto better = d < best;
        best = torch::where(better, d, best);
        sy = torch::where(better, cy, sy);
        sx = torch::where(better, cx, sx);
      }
    }
  }
  NearestSample out;
  out.distance = best.sqrt();
  out.index = (sy.to(torch::kInt64) * w + sx.to(torch::kInt64));
  return out;
}

torch::Tensor nearest_fill(const torch::Tensor& scan, const torch::Tensor& mask) {
  check_pair(scan, mask, "nearest fill");
  auto ns = nearest_sample(mask);
  auto flat = scan.reshape({scan.size(0), 1, -1});
  auto idx = ns.index.reshape({scan.size(0), 1, -1});
  return flat.gather(2, idx).view_as(scan);
}

torch::Tensor normalized_convolution(const torch::Tensor& scan, const torch::Tensor& mask, double sigma) {
  check_pair(scan, mask, "normalised convolution");
  EMGAN_CHECK(ConfigError, sigma >= 0.0, "normalised convolution: sigma ", sigma, " px must be >= 0");
  auto m = (mask > 0.5).to(scan.scalar_type());
  auto ms = m * scan;
  auto near = nearest_fill(scan, mask);
  auto level = [&](double s) {
    auto den = gaussian_blur(m, s);
    auto num = gaussian_blur(ms, s);
    auto ok = den > 1e-6;
    return torch::where(ok, num / den.clamp_min(1e-12), near);
  };
  torch::Tensor out;
  if (sigma > 0.0) {
    out = level(sigma);
  } else {
    // Pixel-adaptive: sigma ~ distance to the nearest sample, on a sqrt(2) ladder.
    auto dist = nearest_sample(mask).distance;
    const double dmax = dist.max().item<double>();
    std::vector<double> sigmas;
    for (double s = 0.7; ; s *= std::sqrt(2.0)) {
      sigmas.push_back(s);
      if (s >= dmax || sigmas.size() > 24) break;
    }
    out = level(sigmas.front());
    auto prev = out;
    auto target = dist.clamp_min(sigmas.front());
    for (size_t i = 1; i < sigmas.size(); ++i) {
      auto cur = level(sigmas[i]);
      // Linear blend between neighbouring ladder levels by log-sigma.
      const double s0 = sigmas[i - 1], s1 = sigmas[i];
      auto t = ((target.log() - std::log(s0)) / (std::log(s1) - std::log(s0))).clamp(0.0, 1.0);
      auto in_band = (target > s0) & (target <= s1);
      out = torch::where(in_band, prev * (1.0 - t) + cur * t, out);
      auto beyond = target > s1;
      out = torch::where(beyond, cur, out);
      prev = cur;
    }
  }
  return m * scan + (1.0 - m) * out;
}

torch::Tensor harmonic_inpaint(const torch::Tensor& scan, const torch::Tensor& mask, const BaselineOptions& o) {
  check_pair(scan, mask, "harmonic inpainting");
  return cg_inpaint(scan, mask, 1, o);
}

torch::Tensor biharmonic_inpaint(const torch::Tensor& scan, const torch::Tensor& mask, const BaselineOptions& o) {
  check_pair(scan, mask, "biharmonic inpainting");
  return cg_inpaint(scan, mask, 2, o);
}

torch::Tensor classical_restore(const std::string& name, const torch::Tensor& scan, const torch::Tensor& mask,
                                const BaselineOptions& options) {
  check_choice("baseline", name, kBaselineNames);
  if (name == "nearest") return nearest_fill(scan, mask);
  if (name == "linear") return normalized_convolution(scan, mask, options.sigma);
  if (name == "harmonic") return harmonic_inpaint(scan, mask, options);
  return biharmonic_inpaint(scan, mask, options);
}

torch::Tensor radial_power_spectrum(const torch::Tensor& image) {
  auto x = image.detach().to(torch::kCPU, torch::kFloat64).squeeze();
  EMGAN_CHECK(ConfigError, x.dim() == 2 && x.size(0) >= 4 && x.size(1) >= 4,
              "power spectrum: image must be [H, W] of at least 4x4, got ", image.sizes());
  const auto h = x.size(0), w = x.size(1);
  auto win = torch::hann_window(h, torch::TensorOptions().dtype(torch::kFloat64)).view({h, 1}) *
             torch::hann_window(w, torch::TensorOptions().dtype(torch::kFloat64)).view({1, w});
  x = (x - x.mean()) * win;
  auto p = torch::fft::fftshift(torch::fft::fft2(x).abs().square());
  auto fy = (torch::arange(h, torch::kFloat64) - static_cast<double>(h / 2)) / static_cast<double>(h);
  auto fx = (torch::arange(w, torch::kFloat64) - static_cast<double>(w / 2)) / static_cast<double>(w);
  const auto n = std::min(h, w);
  auto r = (torch::sqrt(fy.view({h, 1}).square() + fx.view({1, w}).square()) * static_cast<double>(n)).round();
  auto ri = r.to(torch::kInt64).flatten();
  const auto bins = n / 2;
  auto keep = ri < bins;
  auto sums = torch::zeros({bins}, torch::kFloat64).index_add_(0, ri.masked_select(keep), p.flatten().masked_select(keep));
  auto cnt = torch::zeros({bins}, torch::kFloat64)
                 .index_add_(0, ri.masked_select(keep), torch::ones({keep.sum().item<int64_t>()}, torch::kFloat64));
  return sums / cnt.clamp_min(1.0) / static_cast<double>(h * w);
}

std::pair<torch::Tensor, torch::Tensor> error_by_distance(const torch::Tensor& pred, const torch::Tensor& truth,
                                                          const torch::Tensor& distance, int64_t max_distance) {
  EMGAN_CHECK(ConfigError, max_distance >= 0, "error by distance: max_distance ", max_distance, " must be >= 0");
  auto e = (pred.detach().to(torch::kCPU, torch::kFloat64) - truth.detach().to(torch::kCPU, torch::kFloat64))
               .abs()
               .flatten();
  auto d = distance.detach().to(torch::kCPU, torch::kFloat64).flatten();
  EMGAN_CHECK(ConfigError, e.numel() == d.numel(), "error by distance: ", e.numel(), " errors but ", d.numel(),
              " distances");
  auto k = d.round().to(torch::kInt64);
  auto keep = k <= max_distance;
  auto ki = k.masked_select(keep);
  auto sums = torch::zeros({max_distance + 1}, torch::kFloat64).index_add_(0, ki, e.masked_select(keep));
  auto cnt = torch::zeros({max_distance + 1}, torch::kFloat64)
                 .index_add_(0, ki, torch::ones({ki.numel()}, torch::kFloat64));
  auto mean = torch::where(cnt > 0, sums / cnt.clamp_min(1.0), torch::full_like(sums, std::nan("")));
  return {mean, cnt};
}

}  // namespace emgan::restore
