#include "emgan/segment/morphology.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "emgan/core/error.h"

namespace emgan::segment {

namespace F = torch::nn::functional;

namespace {

// [H, W] -> [1, 1, H, W].
torch::Tensor as4d(const torch::Tensor& x) { return x.unsqueeze(0).unsqueeze(0); }

void check_2d(const torch::Tensor& x, const char* what) {
  EMGAN_CHECK(ConfigError, x.defined() && x.dim() == 2, what, ": expected an [H, W] tensor, got ",
              x.defined() ? x.sizes() : c10::IntArrayRef{});
}

// Max pooling 3x3, stride 1, same size (padding with -inf via max_pool's padding).
torch::Tensor max3(const torch::Tensor& x4) {
  return F::max_pool2d(x4, F::MaxPool2dFuncOptions(3).stride(1).padding(1));
}

torch::Tensor disk_kernel(int64_t radius, const torch::TensorOptions& options) {
  const auto r = torch::arange(-radius, radius + 1, options.dtype(torch::kFloat32));
  const auto d2 = r.view({-1, 1}).pow(2) + r.view({1, -1}).pow(2);
  return (d2 <= static_cast<double>(radius * radius) + 0.5).to(torch::kFloat32).view({1, 1, 2 * radius + 1, 2 * radius + 1});
}

// Pads [1, 1, H, W] by `pad` on every side: reflection where it fits, else replication.
torch::Tensor pad_reflect(const torch::Tensor& x4, int64_t pad_h, int64_t pad_w) {
  const auto h = x4.size(2), w = x4.size(3);
  const bool fits = pad_h < h && pad_w < w;
  F::PadFuncOptions options({pad_w, pad_w, pad_h, pad_h});
  if (fits) {
    options.mode(torch::kReflect);
  } else {
    options.mode(torch::kReplicate);
  }
  return F::pad(x4, options);
}

}  // namespace

torch::Tensor gaussian_blur(const torch::Tensor& image, double sigma) {
  check_2d(image, "gaussian_blur");
  EMGAN_CHECK(ConfigError, sigma >= 0 && std::isfinite(sigma), "gaussian_blur: sigma ", sigma, " must be >= 0");
  const auto x = image.to(torch::kFloat32);
  if (sigma == 0) return x.clone();
  const int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3.5 * sigma)));
  auto t = torch::arange(-radius, radius + 1, x.options());
  auto k = torch::exp(-0.5 * (t / sigma).pow(2));
  k = k / k.sum();
  auto x4 = pad_reflect(as4d(x), radius, radius);
  x4 = F::conv2d(x4, k.view({1, 1, 1, -1}));
  x4 = F::conv2d(x4, k.view({1, 1, -1, 1}));
  return x4.squeeze(0).squeeze(0);
}

double otsu_threshold(const torch::Tensor& image, int64_t bins) {
  EMGAN_CHECK(ConfigError, bins >= 2, "otsu_threshold: bins ", bins, " must be >= 2");
  auto v = image.to(torch::kFloat64).flatten();
  v = v.index({torch::isfinite(v)});
  EMGAN_CHECK(ConfigError, v.numel() > 0, "otsu_threshold: the image has no finite value");
  const double lo = v.min().item<double>(), hi = v.max().item<double>();
  if (hi <= lo) return lo;
  const auto hist = torch::histc(v, bins, lo, hi);
  const auto p = hist / hist.sum();
  const double width = (hi - lo) / static_cast<double>(bins);
  const auto centers = lo + (torch::arange(bins, v.options()) + 0.5) * width;
  const auto omega = torch::cumsum(p, 0);
  const auto mu = torch::cumsum(p * centers, 0);
  const auto mu_t = mu[-1];
  auto between = (mu_t * omega - mu).pow(2) / (omega * (1 - omega));
  between = torch::where(torch::isfinite(between), between, torch::zeros_like(between));
  const auto k = between.argmax().item<int64_t>();
  return centers[k].item<double>();
}

torch::Tensor dilate(const torch::Tensor& mask, int64_t radius) {
  check_2d(mask, "dilate");
  EMGAN_CHECK(ConfigError, radius >= 0, "dilate: radius ", radius, " must be >= 0");
  const auto m = mask.to(torch::kBool);
  if (radius == 0) return m.clone();
  const auto k = disk_kernel(radius, m.options());
  auto x = F::pad(as4d(m.to(torch::kFloat32)), F::PadFuncOptions({radius, radius, radius, radius}));
  return (F::conv2d(x, k) > 0.5).squeeze(0).squeeze(0);
}

torch::Tensor erode(const torch::Tensor& mask, int64_t radius) {
  check_2d(mask, "erode");
  EMGAN_CHECK(ConfigError, radius >= 0, "erode: radius ", radius, " must be >= 0");
  const auto m = mask.to(torch::kBool);
  if (radius == 0) return m.clone();
  const auto k = disk_kernel(radius, m.options());
  auto x = F::pad(as4d(m.to(torch::kFloat32)), F::PadFuncOptions({radius, radius, radius, radius}).value(1.0));
  return (F::conv2d(x, k) > k.sum().item<double>() - 0.5).squeeze(0).squeeze(0);
}

torch::Tensor open(const torch::Tensor& mask, int64_t radius) { return dilate(erode(mask, radius), radius); }

torch::Tensor close(const torch::Tensor& mask, int64_t radius) { return erode(dilate(mask, radius), radius); }

torch::Tensor label_components(const torch::Tensor& mask, int64_t* count) {
  check_2d(mask, "label_components");
  const auto m = mask.to(torch::kBool);
  const int64_t h = m.size(0), w = m.size(1), n = h * w;
  // Each foreground pixel holds the smallest pixel index found in its component so
  // far; min-propagation to the neighbours plus pointer jumping (l = l[l]).
  const auto big = static_cast<double>(n);
  const auto idx = torch::arange(n, m.options().dtype(torch::kFloat64)).view({h, w});
  auto lab = torch::where(m, idx, torch::full_like(idx, big));
  for (int64_t it = 0;; ++it) {
    auto next = -max3(as4d(-lab)).squeeze(0).squeeze(0);
    next = torch::where(m, torch::minimum(next, lab), lab);
    auto flat = next.flatten().to(torch::kLong);
    auto safe = flat.clamp_max(n - 1);
    auto jumped = next.flatten().index({safe});
    next = torch::where(m.flatten(), torch::minimum(jumped, next.flatten()), next.flatten()).view({h, w});
    const bool same = torch::equal(next, lab);
    lab = next;
    if (same) break;
    EMGAN_CHECK(Error, it < n + 2, "label_components: no convergence");
  }
  auto labels = torch::where(m, lab.to(torch::kLong) + 1, torch::zeros_like(lab, torch::kLong));
  return relabel_consecutive(labels, count);
}

torch::Tensor relabel_consecutive(const torch::Tensor& labels, int64_t* count) {
  check_2d(labels, "relabel_consecutive");
  const auto l = labels.to(torch::kLong);
  auto [values, inverse] = torch::_unique(l.flatten(), /*sorted=*/true, /*return_inverse=*/true);
  const bool has_bg = values.numel() > 0 && values[0].item<int64_t>() == 0;
  auto out = inverse.view(l.sizes());
  if (!has_bg) out = out + 1;
  const int64_t k = values.numel() - (has_bg ? 1 : 0);
  if (count) *count = k;
  return torch::where(l == 0, torch::zeros_like(out), out);
}

torch::Tensor grow_labels(const torch::Tensor& labels, int64_t steps) {
  check_2d(labels, "grow_labels");
  EMGAN_CHECK(ConfigError, steps >= 0, "grow_labels: steps ", steps, " must be >= 0");
  auto zone = labels.to(torch::kFloat32);
  for (int64_t i = 0; i < steps; ++i) {
    zone = torch::where(zone > 0, zone, max3(as4d(zone)).squeeze(0).squeeze(0));
  }
  return zone.to(torch::kInt64);
}

torch::Tensor remove_small(const torch::Tensor& labels, int64_t min_area, int64_t* count) {
  check_2d(labels, "remove_small");
  auto l = relabel_consecutive(labels);
  if (min_area > 1) {
    const auto area = torch::bincount(l.flatten());
    auto keep = area >= min_area;
    keep.index_put_({0}, false);
    l = torch::where(keep.index({l}), l, torch::zeros_like(l));
  }
  return relabel_consecutive(l, count);
}

torch::Tensor fill_holes(const torch::Tensor& mask) {
  check_2d(mask, "fill_holes");
  const auto m = mask.to(torch::kBool);
  const auto bg = label_components(~m);
  std::vector<torch::Tensor> edges = {bg.index({0}), bg.index({-1}), bg.index({torch::indexing::Slice(), 0}),
                                      bg.index({torch::indexing::Slice(), -1})};
  const auto border = torch::cat(edges);
  const auto outer = torch::isin(bg, border);
  return m | (~outer);
}

torch::Tensor distance_transform(const torch::Tensor& mask, int64_t max_distance) {
  check_2d(mask, "distance_transform");
  EMGAN_CHECK(ConfigError, max_distance >= 1, "distance_transform: max_distance ", max_distance, " must be >= 1");
  const auto m = mask.to(torch::kBool);
  const int64_t h = m.size(0), w = m.size(1);
  const int64_t r = max_distance;
  const double inf = 2.0 * static_cast<double>((r + 1) * (r + 1));
  auto f = torch::where(m, torch::full(m.sizes(), inf, m.options().dtype(torch::kFloat32)),
                        torch::zeros(m.sizes(), m.options().dtype(torch::kFloat32)));
  using torch::indexing::Slice;
  // Pass along rows (x), then along columns (y); outside the image is background (0).
  auto fp = F::pad(as4d(f), F::PadFuncOptions({r, r, 0, 0})).squeeze(0).squeeze(0);
  auto g = f.clone();
  for (int64_t d = -std::min(r, w); d <= std::min(r, w); ++d) {
    g = torch::minimum(g, fp.index({Slice(), Slice(r + d, r + d + w)}) + static_cast<double>(d * d));
  }
  auto gp = F::pad(as4d(g), F::PadFuncOptions({0, 0, r, r})).squeeze(0).squeeze(0);
  auto out = g.clone();
  for (int64_t d = -std::min(r, h); d <= std::min(r, h); ++d) {
    out = torch::minimum(out, gp.index({Slice(r + d, r + d + h), Slice()}) + static_cast<double>(d * d));
  }
  return torch::sqrt(out.clamp_max(static_cast<double>((r + 1) * (r + 1))));
}

torch::Tensor h_maxima(const torch::Tensor& dist, double h) {
  check_2d(dist, "h_maxima");
  EMGAN_CHECK(ConfigError, h > 0, "h_maxima: h ", h, " must be > 0");
  const auto f = dist.to(torch::kFloat32);
  // Reconstruction by dilation of `marker` under `limit` (3x3 geodesic dilations to stability).
  const auto reconstruct = [](torch::Tensor marker, const torch::Tensor& limit) {
    for (;;) {
      auto next = torch::minimum(max3(as4d(marker)).squeeze(0).squeeze(0), limit);
      const bool same = torch::equal(next, marker);
      marker = next;
      if (same) return marker;
    }
  };
  // The h-maxima transform flattens every dome of dynamic >= h into one plateau at
  // (its top - h); its regional maxima are those plateaus, each connected, so a dome
  // whose top value is reached at several separate pixels (ties of the discrete
  // distance map along an ellipse's ridge) still gives a single marker.
  const auto hmax = reconstruct(f - h, f);
  constexpr float kEps = 1e-3f;  // below the smallest step between distinct distances (~1 / (2 * 64))
  const auto below = reconstruct(hmax - kEps, hmax);
  return ((hmax - below) >= 0.5f * kEps) & (f > 0);
}

torch::Tensor watershed_split(const torch::Tensor& mask, const WatershedSettings& settings, int64_t* count) {
  check_2d(mask, "watershed_split");
  EMGAN_CHECK(ConfigError, settings.level_step > 0, "watershed: level_step ", settings.level_step, " must be > 0");
  const auto m = mask.to(torch::kBool);
  if (!settings.split) {
    return remove_small(label_components(m), settings.min_area, count);
  }
  const auto dist = distance_transform(m, settings.max_distance);
  auto labels = label_components(h_maxima(dist, settings.h)).to(torch::kFloat64);
  const double top = dist.max().item<double>();
  for (double level = top; level > -0.5 * settings.level_step; level -= settings.level_step) {
    const auto region = m & (dist >= static_cast<float>(std::max(level, 0.0)));
    for (;;) {
      const auto grown = max3(as4d(labels)).squeeze(0).squeeze(0);
      auto next = torch::where(region & (labels == 0), grown, labels);
      const bool same = torch::equal(next, labels);
      labels = next;
      if (same) break;
    }
  }
  auto out = labels.to(torch::kLong);
  const auto unreached = m & (out == 0);
  if (unreached.any().item<bool>()) {
    const auto extra = label_components(unreached);
    out = torch::where(unreached, extra + out.max(), out);
  }
  return remove_small(out, settings.min_area, count);
}

void validate(const RoughMaskSettings& s, const std::string& source) {
  check_choice(source + ".method", s.method, {"otsu", "local"});
  EMGAN_CHECK(ConfigError, s.smooth_sigma >= 0, source, ".smooth_sigma ", s.smooth_sigma, " must be >= 0");
  EMGAN_CHECK(ConfigError, s.background_sigma >= 0, source, ".background_sigma ", s.background_sigma,
              " must be >= 0");
  EMGAN_CHECK(ConfigError, s.local_sigma > 0, source, ".local_sigma ", s.local_sigma, " must be > 0");
  EMGAN_CHECK(ConfigError, s.open_radius >= 0 && s.close_radius >= 0, source,
              ".open_radius/close_radius must be >= 0, got ", s.open_radius, "/", s.close_radius);
  EMGAN_CHECK(ConfigError, s.min_area >= 0, source, ".min_area ", s.min_area, " must be >= 0");
}

torch::Tensor rough_mask(const torch::Tensor& image, const RoughMaskSettings& s) {
  validate(s);
  auto img = normalize_image(image);
  if (s.dark_particles) img = 1.0 - img;
  if (s.background_sigma > 0) img = img - gaussian_blur(img, s.background_sigma);
  if (s.smooth_sigma > 0) img = gaussian_blur(img, s.smooth_sigma);
  torch::Tensor m;
  if (s.method == "otsu") {
    m = img > otsu_threshold(img);
  } else {
    const auto mean = gaussian_blur(img, s.local_sigma);
    const auto var = (gaussian_blur(img * img, s.local_sigma) - mean * mean).clamp_min(0);
    m = img > mean + s.local_offset * torch::sqrt(var);
  }
  if (s.open_radius > 0) m = open(m, s.open_radius);
  if (s.close_radius > 0) m = close(m, s.close_radius);
  if (s.fill) m = fill_holes(m);
  if (s.min_area > 1) m = remove_small(label_components(m), s.min_area) > 0;
  return m;
}

torch::Tensor normalize_image(const torch::Tensor& image) {
  EMGAN_CHECK(ConfigError, image.defined() && (image.dim() == 2 || image.dim() == 3),
              "normalize_image: expected [H, W] or [C, H, W], got ",
              image.defined() ? image.sizes() : c10::IntArrayRef{});
  auto x = image.to(torch::kFloat32);
  if (x.dim() == 3) x = x.mean(0);
  auto v = x.flatten();
  v = v.index({torch::isfinite(v)});
  if (v.numel() == 0) return torch::zeros_like(x);
  const int64_t limit = 1 << 22;
  if (v.numel() > limit) v = v.index({torch::indexing::Slice(0, torch::indexing::None, v.numel() / limit + 1)});
  const auto q = torch::quantile(v, torch::tensor({0.005, 0.995}, v.options()));
  const double lo = q[0].item<double>(), hi = q[1].item<double>();
  x = torch::nan_to_num(x, lo, hi, lo);
  if (hi <= lo) return torch::zeros_like(x);
  return ((x - lo) / (hi - lo)).clamp(0, 1);
}

torch::Tensor binarize_mask(const torch::Tensor& mask, bool* binary) {
  EMGAN_CHECK(ConfigError, mask.defined() && (mask.dim() == 2 || mask.dim() == 3),
              "binarize_mask: expected [H, W] or [C, H, W], got ",
              mask.defined() ? mask.sizes() : c10::IntArrayRef{});
  auto m = mask.to(torch::kFloat32);
  if (m.dim() == 3) m = m[0];
  m = torch::nan_to_num(m, 0.0, 0.0, 0.0);
  if (binary) *binary = std::get<0>(torch::_unique(m.flatten())).numel() <= 2;
  const double hi = m.max().item<double>();
  if (hi <= 0) return torch::zeros(m.sizes(), m.options().dtype(torch::kBool));
  return m > 0.5 * hi;
}

}  // namespace emgan::segment
