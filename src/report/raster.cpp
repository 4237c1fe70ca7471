// Contrast windows, colormaps, PNG output, the Canvas and image grids.
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

#include "emgan/core/error.h"
#include "emgan/io/image.h"
#include "emgan/report/canvas.h"
#include "emgan/report/display.h"
#include "emgan/report/grid.h"

namespace emgan::report {

// ---------------------------------------------------------------------------
// Colours
// ---------------------------------------------------------------------------

Color Color::from_rgb8(int r, int g, int b) { return {r / 255.0, g / 255.0, b / 255.0}; }

Color Color::from_hex(const std::string& hex) {
  const bool ok = hex.size() == 7 && hex[0] == '#' &&
                  std::all_of(hex.begin() + 1, hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  EMGAN_CHECK(ConfigError, ok, "colour \"", hex, "\": expected the form #rrggbb");
  const auto part = [&](int i) { return std::stoi(hex.substr(1 + 2 * i, 2), nullptr, 16); };
  return from_rgb8(part(0), part(1), part(2));
}

std::string Color::hex() const {
  const auto c8 = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); };
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c8(r), c8(g), c8(b));
  return buf;
}

Color palette(int index) {
  static const Color kTab10[] = {
      Color::from_rgb8(31, 119, 180),  Color::from_rgb8(255, 127, 14), Color::from_rgb8(44, 160, 44),
      Color::from_rgb8(214, 39, 40),   Color::from_rgb8(148, 103, 189), Color::from_rgb8(140, 86, 75),
      Color::from_rgb8(227, 119, 194), Color::from_rgb8(127, 127, 127), Color::from_rgb8(188, 189, 34),
      Color::from_rgb8(23, 190, 207)};
  const int n = static_cast<int>(sizeof kTab10 / sizeof kTab10[0]);
  return kTab10[((index % n) + n) % n];
}

// ---------------------------------------------------------------------------
// Windows
// ---------------------------------------------------------------------------

namespace {

constexpr int64_t kMaxWindowSamples = int64_t{1} << 22;

// The finite values of `x` as a flat float tensor (strided subsample when large).
torch::Tensor finite_sample(const torch::Tensor& x) {
  auto f = x.detach().reshape({-1});
  if (!f.is_floating_point()) f = f.to(torch::kFloat);
  const int64_t n = f.numel();
  if (n > kMaxWindowSamples) {
    const int64_t stride = (n + kMaxWindowSamples - 1) / kMaxWindowSamples;
    f = f.slice(0, 0, n, stride);
  }
  return f.masked_select(torch::isfinite(f)).to(torch::kDouble);
}

void check_percentiles(double lo, double hi) {
  EMGAN_CHECK(ConfigError, lo >= 0.0 && hi <= 100.0 && lo < hi, "window percentiles ", lo, " and ", hi,
              ": expected 0 <= low < high <= 100");
}

// Percentiles (0..100) of `values` (flat, any device) by linear interpolation
// between order statistics, as numpy.percentile does.
std::vector<double> percentiles(const torch::Tensor& values, const std::vector<double>& ps) {
  const auto sorted = std::get<0>(values.sort());
  const int64_t n = sorted.numel();
  std::vector<int64_t> idx;
  std::vector<double> frac;
  for (double p : ps) {
    const double pos = p / 100.0 * static_cast<double>(n - 1);
    const auto i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(pos)), n - 1);
    idx.push_back(i0);
    idx.push_back(std::min<int64_t>(i0 + 1, n - 1));
    frac.push_back(pos - static_cast<double>(i0));
  }
  const auto picked =
      sorted.index_select(0, torch::tensor(idx, torch::kLong).to(sorted.device())).to(torch::kCPU).contiguous();
  const double* v = picked.data_ptr<double>();
  std::vector<double> out;
  for (size_t k = 0; k < ps.size(); ++k) out.push_back(v[2 * k] + (v[2 * k + 1] - v[2 * k]) * frac[k]);
  return out;
}

Window widen_if_flat(Window w) {
  if (!(w.hi > w.lo)) {
    const double c = w.lo;
    w.lo = c - 0.5;
    w.hi = c + 0.5;
  }
  return w;
}

torch::Tensor pooled_sample(const std::vector<torch::Tensor>& xs) {
  std::vector<torch::Tensor> parts;
  for (const auto& x : xs)
    if (x.defined() && x.numel() > 0) parts.push_back(finite_sample(x).to(torch::kCPU));
  if (parts.empty()) return torch::empty({0}, torch::kDouble);
  return torch::cat(parts);
}

Window window_of_sample(const torch::Tensor& s, double low, double high) {
  if (s.numel() == 0) return {0.0, 1.0};
  const auto p = percentiles(s, {low, high});
  return widen_if_flat({p[0], p[1]});
}

Window symmetric_of_sample(const torch::Tensor& s, double percentile) {
  if (s.numel() == 0) return {-1.0, 1.0};
  const double m = percentiles(s.abs(), {percentile})[0];
  return m > 0.0 ? Window{-m, m} : Window{-1.0, 1.0};
}

}  // namespace

Window auto_window(const torch::Tensor& x, double low_percentile, double high_percentile) {
  check_percentiles(low_percentile, high_percentile);
  EMGAN_CHECK(ConfigError, x.defined(), "auto_window: the image tensor is undefined");
  return window_of_sample(finite_sample(x), low_percentile, high_percentile);
}

Window auto_window_of(const std::vector<torch::Tensor>& xs, double low_percentile, double high_percentile) {
  check_percentiles(low_percentile, high_percentile);
  return window_of_sample(pooled_sample(xs), low_percentile, high_percentile);
}

Window symmetric_window(const torch::Tensor& x, double percentile) {
  EMGAN_CHECK(ConfigError, percentile > 0.0 && percentile <= 100.0, "symmetric window percentile ", percentile,
              ": expected 0 < p <= 100");
  EMGAN_CHECK(ConfigError, x.defined(), "symmetric_window: the image tensor is undefined");
  return symmetric_of_sample(finite_sample(x), percentile);
}

torch::Tensor to_unit(const torch::Tensor& x, double lo, double hi) {
  EMGAN_CHECK(ConfigError, std::isfinite(lo) && std::isfinite(hi) && hi > lo, "display window [", lo, ", ", hi,
              "]: expected finite bounds with hi > lo");
  auto f = x.detach().to(torch::kFloat);
  return torch::nan_to_num(((f - lo) / (hi - lo)).clamp(0.0, 1.0), 0.0);
}

torch::Tensor to_display(const torch::Tensor& x, double lo, double hi) {
  return (to_unit(x, lo, hi) * 255.0).round().to(torch::kUInt8);
}

// ---------------------------------------------------------------------------
// Colormaps
// ---------------------------------------------------------------------------

Colormap colormap_from_string(const std::string& name) {
  if (name == "grey" || name == "gray") return Colormap::kGrey;
  if (name == "viridis") return Colormap::kViridis;
  if (name == "diverging") return Colormap::kDiverging;
  throw ConfigError("colormap \"" + name + "\": expected one of grey, viridis, diverging");
}

namespace {

// Tables of 11 colours at 0, 0.1, ..., 1 (8-bit sRGB).
constexpr int kViridis[11][3] = {{68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},
                                 {42, 120, 142}, {33, 145, 140}, {34, 168, 132}, {68, 191, 112},
                                 {122, 209, 81}, {189, 223, 38}, {253, 231, 37}};
constexpr int kRdBuReversed[11][3] = {{5, 48, 97},     {33, 102, 172}, {67, 147, 195}, {146, 197, 222},
                                      {209, 229, 240}, {247, 247, 247}, {253, 219, 199}, {244, 165, 130},
                                      {214, 96, 77},   {178, 24, 43},  {103, 0, 31}};

torch::Tensor colormap_table(Colormap c, const torch::Device& device) {
  const int(*t)[3] = c == Colormap::kViridis ? kViridis : kRdBuReversed;
  std::vector<float> v;
  for (int i = 0; i < 11; ++i)
    for (int k = 0; k < 3; ++k) v.push_back(static_cast<float>(t[i][k] / 255.0));
  return torch::tensor(v, torch::kFloat).view({11, 3}).to(device);
}

// [H, W], [1, H, W] or [1, 1, H, W] -> [H, W]; [3, H, W] stays; anything else throws.
torch::Tensor as_chw(const torch::Tensor& x, const std::string& what) {
  EMGAN_CHECK(ConfigError, x.defined(), what, ": the tensor is undefined");
  if (x.dim() == 2) return x.unsqueeze(0);
  if (x.dim() == 3 && (x.size(0) == 1 || x.size(0) == 3)) return x;
  if (x.dim() == 4 && x.size(0) == 1 && (x.size(1) == 1 || x.size(1) == 3)) return x[0];
  throw ConfigError(what + ": shape " + detail::concat(x.sizes()) +
                    " is not an image; expected [H, W], [1, H, W], [3, H, W] or [1, C, H, W] with C = 1 or 3");
}

}  // namespace

torch::Tensor apply_colormap(const torch::Tensor& unit, Colormap colormap) {
  auto u = as_chw(unit, "apply_colormap");
  EMGAN_CHECK(ConfigError, u.size(0) == 1, "apply_colormap: expected one channel, got shape ", unit.sizes());
  u = u[0].to(torch::kFloat).clamp(0.0, 1.0);
  if (colormap == Colormap::kGrey) return u.unsqueeze(0).repeat({3, 1, 1});
  const auto table = colormap_table(colormap, u.device());
  const int64_t k = table.size(0);
  const auto pos = u.reshape({-1}) * static_cast<double>(k - 1);
  const auto i0 = pos.floor().clamp(0, k - 2).to(torch::kLong);
  const auto frac = (pos - i0.to(torch::kFloat)).unsqueeze(1);
  const auto c0 = table.index_select(0, i0);
  const auto c1 = table.index_select(0, i0 + 1);
  return (c0 + (c1 - c0) * frac).t().reshape({3, u.size(0), u.size(1)}).contiguous();
}

torch::Tensor render_scalar(const torch::Tensor& x, const Window& window, Colormap colormap) {
  const auto chw = as_chw(x, "render_scalar");
  const auto unit = to_unit(chw, window.lo, window.hi);
  if (chw.size(0) == 3) return unit.contiguous();
  return apply_colormap(unit, colormap);
}

torch::Tensor to_uint8_cpu(const torch::Tensor& image) {
  auto chw = as_chw(image, "to_uint8_cpu");
  return (chw.detach().to(torch::kFloat).clamp(0.0, 1.0) * 255.0).round().to(torch::kUInt8).to(torch::kCPU).contiguous();
}

void write_png(const fs::path& path, const torch::Tensor& image) {
  const auto bytes = to_uint8_cpu(image);
  if (path.has_parent_path()) ensure_dir(path.parent_path());
  io::WriteOptions options;
  options.dtype = "uint8";
  io::write_image(path, bytes.to(torch::kFloat), options);
}

// ---------------------------------------------------------------------------
// Canvas
// ---------------------------------------------------------------------------

namespace {

torch::Tensor color_tensor(Color c, const torch::Device& device) {
  return torch::tensor({static_cast<float>(c.r), static_cast<float>(c.g), static_cast<float>(c.b)}, torch::kFloat)
      .view({3, 1, 1})
      .to(device);
}

// A coverage mask over an integer box of the canvas, built on the CPU.
class Coverage {
 public:
  Coverage(double x0, double y0, double x1, double y1, int64_t width, int64_t height) {
    bx0_ = std::clamp<int64_t>(static_cast<int64_t>(std::floor(x0)), 0, width);
    by0_ = std::clamp<int64_t>(static_cast<int64_t>(std::floor(y0)), 0, height);
    bx1_ = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(x1)) + 1, 0, width);
    by1_ = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(y1)) + 1, 0, height);
    w_ = std::max<int64_t>(bx1_ - bx0_, 0);
    h_ = std::max<int64_t>(by1_ - by0_, 0);
    m_.assign(static_cast<size_t>(w_ * h_), 0.0f);
  }
  bool empty() const { return w_ == 0 || h_ == 0; }

  // A segment of width `thickness` with round caps.
  void segment(double ax, double ay, double bx, double by, double thickness) {
    const double hw = thickness / 2.0;
    const double dx = bx - ax, dy = by - ay;
    const double len2 = dx * dx + dy * dy;
    const auto [x0, x1] = range(std::min(ax, bx) - hw - 1, std::max(ax, bx) + hw + 1, bx0_, bx1_);
    const auto [y0, y1] = range(std::min(ay, by) - hw - 1, std::max(ay, by) + hw + 1, by0_, by1_);
    for (int64_t y = y0; y < y1; ++y) {
      for (int64_t x = x0; x < x1; ++x) {
        const double px = static_cast<double>(x) + 0.5, py = static_cast<double>(y) + 0.5;
        double t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0.0;
        t = std::clamp(t, 0.0, 1.0);
        const double d = std::hypot(px - (ax + t * dx), py - (ay + t * dy));
        put(x, y, hw + 0.5 - d);
      }
    }
  }

  void marker(double cx, double cy, Marker shape, double size) {
    const double r = size / 2.0;
    if (shape == Marker::kCross || shape == Marker::kPlus) {
      const double t = std::max(1.5, size / 5.0);
      const double a = shape == Marker::kCross ? r * 0.7071 : r;
      if (shape == Marker::kCross) {
        segment(cx - a, cy - a, cx + a, cy + a, t);
        segment(cx - a, cy + a, cx + a, cy - a, t);
      } else {
        segment(cx - a, cy, cx + a, cy, t);
        segment(cx, cy - a, cx, cy + a, t);
      }
      return;
    }
    const auto [x0, x1] = range(cx - r - 1, cx + r + 1, bx0_, bx1_);
    const auto [y0, y1] = range(cy - r - 1, cy + r + 1, by0_, by1_);
    for (int64_t y = y0; y < y1; ++y) {
      for (int64_t x = x0; x < x1; ++x) {
        const double dx = std::abs(static_cast<double>(x) + 0.5 - cx), dy = std::abs(static_cast<double>(y) + 0.5 - cy);
        double c = 0.0;
        if (shape == Marker::kCircle) c = r + 0.5 - std::hypot(dx, dy);
        if (shape == Marker::kSquare) c = std::min(r + 0.5 - dx, r + 0.5 - dy);
        if (shape == Marker::kDiamond) c = (r - dx - dy) / 1.4142 + 0.5;
        put(x, y, c);
      }
    }
  }

  void apply(Canvas& canvas, Color color, double alpha) const {
    if (empty()) return;
    auto mask = torch::from_blob(const_cast<float*>(m_.data()), {h_, w_}, torch::kFloat).clone();
    canvas.blend_mask(mask, bx0_, by0_, color, alpha);
  }

 private:
  static std::pair<int64_t, int64_t> range(double a, double b, int64_t lo, int64_t hi) {
    const auto ia = std::clamp<int64_t>(static_cast<int64_t>(std::floor(a)), lo, hi);
    const auto ib = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(b)), lo, hi);
    return {ia, std::max(ia, ib)};
  }
  void put(int64_t x, int64_t y, double c) {
    if (c <= 0.0) return;
    float& v = m_[static_cast<size_t>((y - by0_) * w_ + (x - bx0_))];
    v = std::max(v, static_cast<float>(std::min(c, 1.0)));
  }

  int64_t bx0_, by0_, bx1_, by1_, w_, h_;
  std::vector<float> m_;
};

bool finite2(double a, double b) { return std::isfinite(a) && std::isfinite(b); }

}  // namespace

Canvas::Canvas(int64_t height, int64_t width, Color background, torch::Device device)
    : height_(height), width_(width) {
  EMGAN_CHECK(ConfigError, height >= 1 && width >= 1 && height <= 32768 && width <= 32768, "canvas size ", height,
              " x ", width, ": expected 1..32768 pixels a side");
  pixels_ = color_tensor(background, device).expand({3, height, width}).contiguous();
}

void Canvas::blend_mask(const torch::Tensor& mask, int64_t x, int64_t y, Color color, double alpha) {
  EMGAN_CHECK(ConfigError, mask.dim() == 2, "blend_mask: expected a [h, w] mask, got shape ", mask.sizes());
  const int64_t x0 = std::max<int64_t>(x, 0), y0 = std::max<int64_t>(y, 0);
  const int64_t x1 = std::min<int64_t>(x + mask.size(1), width_), y1 = std::min<int64_t>(y + mask.size(0), height_);
  if (x1 <= x0 || y1 <= y0) return;
  const auto m = mask.slice(0, y0 - y, y1 - y).slice(1, x0 - x, x1 - x).to(pixels_.device(), torch::kFloat) *
                 std::clamp(alpha, 0.0, 1.0);
  auto region = pixels_.slice(1, y0, y1).slice(2, x0, x1);
  region.mul_(1.0 - m).add_(color_tensor(color, pixels_.device()) * m);
}

void Canvas::fill_rect(double x0, double y0, double x1, double y1, Color color, double alpha) {
  const auto ix0 = std::clamp<int64_t>(std::llround(std::min(x0, x1)), 0, width_);
  const auto ix1 = std::clamp<int64_t>(std::llround(std::max(x0, x1)), 0, width_);
  const auto iy0 = std::clamp<int64_t>(std::llround(std::min(y0, y1)), 0, height_);
  const auto iy1 = std::clamp<int64_t>(std::llround(std::max(y0, y1)), 0, height_);
  if (ix1 <= ix0 || iy1 <= iy0) return;
  auto region = pixels_.slice(1, iy0, iy1).slice(2, ix0, ix1);
  const double a = std::clamp(alpha, 0.0, 1.0);
  region.mul_(1.0 - a).add_(color_tensor(color, pixels_.device()) * a);
}

void Canvas::stroke_rect(double x0, double y0, double x1, double y1, Color color, double thickness) {
  const double t = std::max(thickness, 1.0);
  fill_rect(x0, y0, x1, y0 + t, color);
  fill_rect(x0, y1 - t, x1, y1, color);
  fill_rect(x0, y0 + t, x0 + t, y1 - t, color);
  fill_rect(x1 - t, y0 + t, x1, y1 - t, color);
}

void Canvas::line(double x0, double y0, double x1, double y1, Color color, double thickness) {
  polyline({x0, x1}, {y0, y1}, color, thickness);
}

void Canvas::polyline(const std::vector<double>& xs, const std::vector<double>& ys, Color color, double thickness,
                      double dash, double alpha) {
  EMGAN_CHECK(ConfigError, xs.size() == ys.size(), "polyline: ", xs.size(), " x values but ", ys.size(), " y values");
  EMGAN_CHECK(ConfigError, thickness > 0.0 && thickness < 1000.0, "polyline: thickness ", thickness,
              " must be in (0, 1000) pixels");
  double bx0 = 1e300, by0 = 1e300, bx1 = -1e300, by1 = -1e300;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!finite2(xs[i], ys[i])) continue;
    bx0 = std::min(bx0, xs[i]), bx1 = std::max(bx1, xs[i]);
    by0 = std::min(by0, ys[i]), by1 = std::max(by1, ys[i]);
  }
  if (bx0 > bx1) return;
  const double pad = thickness + 2.0;
  Coverage cov(bx0 - pad, by0 - pad, bx1 + pad, by1 + pad, width_, height_);
  if (cov.empty()) return;
  const double gap = dash * 0.6;
  double phase = 0.0;  // distance travelled within the current dash period
  for (size_t i = 1; i < xs.size(); ++i) {
    if (!finite2(xs[i - 1], ys[i - 1]) || !finite2(xs[i], ys[i])) continue;
    const double ax = xs[i - 1], ay = ys[i - 1], bx = xs[i], by = ys[i];
    if (dash <= 0.0) {
      cov.segment(ax, ay, bx, by, thickness);
      continue;
    }
    const double len = std::hypot(bx - ax, by - ay);
    double s = 0.0;
    while (s < len) {
      const bool on = phase < dash;
      const double left = on ? dash - phase : dash + gap - phase;
      // Either the current dash/gap section ends inside this segment (then switch to the
      // next section exactly, so a rounding remainder `left` smaller than the spacing of
      // doubles near `s` cannot stall the loop), or the segment ends inside the section.
      const bool section_ends = s + left <= len;
      const double e = section_ends ? s + left : len;
      if (on && len > 0 && e > s) {
        cov.segment(ax + (bx - ax) * s / len, ay + (by - ay) * s / len, ax + (bx - ax) * e / len,
                    ay + (by - ay) * e / len, thickness);
      }
      if (section_ends) {
        phase = on ? dash : 0.0;
      } else {
        phase += e - s;
      }
      s = e;
    }
  }
  cov.apply(*this, color, alpha);
}

void Canvas::markers(const std::vector<double>& xs, const std::vector<double>& ys, Marker shape, double size,
                     Color color) {
  EMGAN_CHECK(ConfigError, xs.size() == ys.size(), "markers: ", xs.size(), " x values but ", ys.size(), " y values");
  EMGAN_CHECK(ConfigError, size > 0.0 && size < 1000.0, "markers: size ", size, " must be in (0, 1000) pixels");
  double bx0 = 1e300, by0 = 1e300, bx1 = -1e300, by1 = -1e300;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!finite2(xs[i], ys[i])) continue;
    bx0 = std::min(bx0, xs[i]), bx1 = std::max(bx1, xs[i]);
    by0 = std::min(by0, ys[i]), by1 = std::max(by1, ys[i]);
  }
  if (bx0 > bx1) return;
  Coverage cov(bx0 - size - 2, by0 - size - 2, bx1 + size + 2, by1 + size + 2, width_, height_);
  if (cov.empty()) return;
  for (size_t i = 0; i < xs.size(); ++i)
    if (finite2(xs[i], ys[i])) cov.marker(xs[i], ys[i], shape, size);
  cov.apply(*this, color, 1.0);
}

void Canvas::text(double x, double y, const std::string& str, Color color, int scale, Align align, bool vertical) {
  if (str.empty()) return;
  auto mask = text_mask(str, scale);
  const double len = static_cast<double>(mask.size(1));
  const double shift = align == Align::kLeft ? 0.0 : align == Align::kCenter ? len / 2.0 : len;
  if (!vertical) {
    blend_mask(mask, std::llround(x - shift), std::llround(y), color);
  } else {
    // Counter-clockwise: the text starts at the bottom and reads upwards.
    mask = torch::rot90(mask, 1, {0, 1});
    blend_mask(mask, std::llround(x), std::llround(y - (len - shift)), color);
  }
}

void Canvas::paste(const torch::Tensor& image, int64_t x, int64_t y) {
  auto chw = as_chw(image, "Canvas::paste");
  if (chw.size(0) == 1) chw = chw.expand({3, chw.size(1), chw.size(2)});
  const int64_t x0 = std::max<int64_t>(x, 0), y0 = std::max<int64_t>(y, 0);
  const int64_t x1 = std::min<int64_t>(x + chw.size(2), width_), y1 = std::min<int64_t>(y + chw.size(1), height_);
  if (x1 <= x0 || y1 <= y0) return;
  pixels_.slice(1, y0, y1).slice(2, x0, x1).copy_(
      chw.slice(1, y0 - y, y1 - y).slice(2, x0 - x, x1 - x).to(pixels_.device(), torch::kFloat));
}

void Canvas::save_png(const fs::path& path) const { write_png(path, pixels_); }

// ---------------------------------------------------------------------------
// Image grids
// ---------------------------------------------------------------------------

WindowMode window_mode_from_string(const std::string& name) {
  if (name == "row") return WindowMode::kRow;
  if (name == "column") return WindowMode::kColumn;
  if (name == "panel") return WindowMode::kPanel;
  if (name == "fixed") return WindowMode::kFixed;
  throw ConfigError("window mode \"" + name + "\": expected one of row, column, panel, fixed");
}

namespace {

bool contains(const std::vector<int64_t>& v, int64_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string window_text(const PanelWindow& w) {
  if (w.colormap == Colormap::kDiverging) return "\u00B1" + short_number(w.window.hi);
  return short_number(w.window.lo) + " .. " + short_number(w.window.hi);
}

void check_grid_options(const GridOptions& o) {
  check_percentiles(o.low_percentile(), o.high_percentile());
  EMGAN_CHECK(ConfigError, o.panel_scale() >= 1 && o.panel_scale() <= 64, "grid panel_scale ", o.panel_scale(),
              ": expected 1..64");
  EMGAN_CHECK(ConfigError, o.gap() >= 0 && o.gap() <= 1000, "grid gap ", o.gap(), ": expected 0..1000 pixels");
  if (o.window_mode() == WindowMode::kFixed)
    EMGAN_CHECK(ConfigError, o.fixed_window().hi > o.fixed_window().lo, "grid fixed_window [", o.fixed_window().lo,
                ", ", o.fixed_window().hi, "]: expected hi > lo");
}

// Panels as [C, H, W] (C = 1 or 3), undefined where empty; throws naming the cell.
std::vector<std::vector<torch::Tensor>> normalised_panels(const std::vector<std::vector<torch::Tensor>>& rows) {
  std::vector<std::vector<torch::Tensor>> out(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const auto& p = rows[r][c];
      if (!p.defined() || p.numel() == 0) {
        out[r].emplace_back();
        continue;
      }
      out[r].push_back(as_chw(p.detach(), "image grid panel (row " + std::to_string(r) + ", column " +
                                               std::to_string(c) + ")"));
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<PanelWindow>> grid_windows(const std::vector<std::vector<torch::Tensor>>& rows,
                                                   const GridOptions& options) {
  check_grid_options(options);
  const double lo = options.low_percentile(), hi = options.high_percentile();
  const auto& diff = options.difference_columns();
  const auto& own = options.own_window_columns();
  size_t ncols = 0;
  for (const auto& r : rows) ncols = std::max(ncols, r.size());
  const auto at = [&](size_t r, size_t c) { return c < rows[r].size() ? rows[r][c] : torch::Tensor(); };

  std::vector<std::vector<PanelWindow>> out(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) out[r].resize(rows[r].size());
  const auto set = [&](size_t r, size_t c, Window w, Colormap m) {
    if (c < out[r].size()) out[r][c] = {w, m};
  };
  const auto diverging = [&](size_t c) { return contains(diff, static_cast<int64_t>(c)); };

  switch (options.window_mode()) {
    case WindowMode::kRow:
      for (size_t r = 0; r < rows.size(); ++r) {
        std::vector<torch::Tensor> shared, diffs;
        for (size_t c = 0; c < rows[r].size(); ++c) {
          if (diverging(c))
            diffs.push_back(at(r, c));
          else if (!contains(own, static_cast<int64_t>(c)))
            shared.push_back(at(r, c));
        }
        const Window ws = window_of_sample(pooled_sample(shared), lo, hi);
        const Window wd = symmetric_of_sample(pooled_sample(diffs), hi);
        for (size_t c = 0; c < rows[r].size(); ++c) {
          if (diverging(c))
            set(r, c, wd, Colormap::kDiverging);
          else if (contains(own, static_cast<int64_t>(c)))
            set(r, c, window_of_sample(pooled_sample({at(r, c)}), lo, hi), options.colormap());
          else
            set(r, c, ws, options.colormap());
        }
      }
      break;
    case WindowMode::kColumn:
      for (size_t c = 0; c < ncols; ++c) {
        std::vector<torch::Tensor> col;
        for (size_t r = 0; r < rows.size(); ++r) col.push_back(at(r, c));
        const auto s = pooled_sample(col);
        const Window w = diverging(c) ? symmetric_of_sample(s, hi) : window_of_sample(s, lo, hi);
        for (size_t r = 0; r < rows.size(); ++r)
          set(r, c, w, diverging(c) ? Colormap::kDiverging : options.colormap());
      }
      break;
    case WindowMode::kPanel:
    case WindowMode::kFixed:
      for (size_t r = 0; r < rows.size(); ++r) {
        for (size_t c = 0; c < rows[r].size(); ++c) {
          const auto s = pooled_sample({at(r, c)});
          if (diverging(c))
            set(r, c, symmetric_of_sample(s, hi), Colormap::kDiverging);
          else if (options.window_mode() == WindowMode::kFixed)
            set(r, c, options.fixed_window(), options.colormap());
          else
            set(r, c, window_of_sample(s, lo, hi), options.colormap());
        }
      }
      break;
  }
  return out;
}

torch::Tensor render_grid(const std::vector<std::vector<torch::Tensor>>& rows_in, const GridOptions& options) {
  check_grid_options(options);
  const auto rows = normalised_panels(rows_in);
  const auto windows = grid_windows(rows, options);
  const size_t nrows = rows.size();
  size_t ncols = 0;
  torch::Device device(torch::kCPU);
  bool any = false;
  for (const auto& r : rows) {
    ncols = std::max(ncols, r.size());
    for (const auto& p : r)
      if (p.defined() && !any) {
        device = p.device();
        any = true;
      }
  }
  EMGAN_CHECK(ConfigError, any, "image grid: no panel holds an image (", nrows, " rows)");

  const int ts = options.text_scale();
  const int cs = std::max(1, ts - 1);  // captions one size smaller
  const int64_t gap = options.gap();
  const int64_t s = options.panel_scale();
  const auto& diff = options.difference_columns();
  const auto& own = options.own_window_columns();
  const bool row_mode = options.window_mode() == WindowMode::kRow;

  // What is written under the row label (the shared window) and under panels.
  std::vector<std::string> row_caption(nrows);
  std::vector<std::vector<std::string>> panel_caption(nrows);
  for (size_t r = 0; r < nrows; ++r) {
    panel_caption[r].resize(rows[r].size());
    if (!options.show_window()) continue;
    for (size_t c = 0; c < rows[r].size(); ++c) {
      if (!rows[r][c].defined()) continue;
      const bool shared = row_mode && !contains(diff, static_cast<int64_t>(c)) && !contains(own, static_cast<int64_t>(c));
      const bool fixed = options.window_mode() == WindowMode::kFixed && !contains(diff, static_cast<int64_t>(c));
      if (shared)
        row_caption[r] = window_text(windows[r][c]);
      else if (!fixed)
        panel_caption[r][c] = window_text(windows[r][c]);
    }
  }

  // Cell sizes.
  std::vector<int64_t> cell_h(nrows, 0), cell_w(ncols, 0), cap_h(nrows, 0);
  for (size_t r = 0; r < nrows; ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const auto& p = rows[r][c];
      if (p.defined()) {
        cell_h[r] = std::max(cell_h[r], p.size(1) * s);
        cell_w[c] = std::max(cell_w[c], p.size(2) * s);
      }
      if (!panel_caption[r][c].empty()) {
        cap_h[r] = text_height(cs) + 2;
        cell_w[c] = std::max(cell_w[c], text_width(panel_caption[r][c], cs));
      }
    }
  }
  const auto& titles = options.column_titles();
  const auto& labels = options.row_labels();
  bool any_title = false;
  for (size_t c = 0; c < std::min(titles.size(), ncols); ++c) any_title = any_title || !titles[c].empty();
  int64_t label_w = 0;
  for (size_t r = 0; r < nrows; ++r) {
    if (r < labels.size()) label_w = std::max(label_w, text_width(labels[r], ts));
    label_w = std::max(label_w, text_width(row_caption[r], cs));
  }
  const int64_t margin = std::max<int64_t>(gap, 4);
  const int64_t left = margin + (label_w > 0 ? label_w + 2 * gap + 4 : 0);
  const int64_t top = margin + (any_title ? text_height(ts) + gap : 0);
  int64_t width = left + margin, height = top + margin;
  for (size_t c = 0; c < ncols; ++c) width += cell_w[c] + (c + 1 < ncols ? gap : 0);
  for (size_t r = 0; r < nrows; ++r) height += cell_h[r] + cap_h[r] + (r + 1 < nrows ? gap : 0);

  Canvas canvas(height, width, options.background(), device);
  const Color ink = options.text_color();
  std::vector<int64_t> col_x(ncols);
  for (size_t c = 0; c < ncols; ++c) col_x[c] = c == 0 ? left : col_x[c - 1] + cell_w[c - 1] + gap;
  for (size_t c = 0; c < std::min(titles.size(), ncols); ++c) {
    int scale = ts;
    while (scale > 1 && text_width(titles[c], scale) > cell_w[c] + gap) --scale;
    canvas.text(static_cast<double>(col_x[c]) + static_cast<double>(cell_w[c]) / 2.0,
                static_cast<double>(top - gap - text_height(ts)) + (text_height(ts) - text_height(scale)),
                titles[c], ink, scale, Align::kCenter);
  }
  int64_t y = top;
  for (size_t r = 0; r < nrows; ++r) {
    // Row label and shared window, centred vertically on the cell.
    const bool has_label = r < labels.size() && !labels[r].empty();
    const int64_t block = (has_label ? text_height(ts) : 0) + (row_caption[r].empty() ? 0 : text_height(cs) + 4);
    int64_t ty = y + (cell_h[r] - block) / 2;
    if (has_label) {
      canvas.text(static_cast<double>(left - gap - 4), static_cast<double>(ty), labels[r], ink, ts, Align::kRight);
      ty += text_height(ts) + 4;
    }
    if (!row_caption[r].empty())
      canvas.text(static_cast<double>(left - gap - 4), static_cast<double>(ty), row_caption[r], Color{0.4, 0.4, 0.4},
                  cs, Align::kRight);
    for (size_t c = 0; c < rows[r].size(); ++c) {
      const auto& p = rows[r][c];
      if (p.defined()) {
        auto img = render_scalar(p, windows[r][c].window, windows[r][c].colormap);
        if (s > 1) img = img.repeat_interleave(s, 1).repeat_interleave(s, 2);
        const int64_t px = col_x[c] + (cell_w[c] - img.size(2)) / 2;
        const int64_t py = y + (cell_h[r] - img.size(1)) / 2;
        canvas.paste(img, px, py);
      }
      if (!panel_caption[r][c].empty())
        canvas.text(static_cast<double>(col_x[c]) + static_cast<double>(cell_w[c]) / 2.0,
                    static_cast<double>(y + cell_h[r] + 2), panel_caption[r][c], Color{0.4, 0.4, 0.4}, cs,
                    Align::kCenter);
    }
    y += cell_h[r] + cap_h[r] + gap;
  }
  return canvas.pixels();
}

void write_grid_png(const fs::path& path, const std::vector<std::vector<torch::Tensor>>& rows,
                    const GridOptions& options) {
  write_png(path, render_grid(rows, options));
}

std::vector<std::vector<torch::Tensor>> comparison_rows(const torch::Tensor& input, const torch::Tensor& output,
                                                        const torch::Tensor& target, int64_t max_rows) {
  EMGAN_CHECK(ConfigError, max_rows > 0, "comparison_rows: max_rows ", max_rows, " must be > 0");
  EMGAN_CHECK(ConfigError, output.defined() && target.defined() && output.dim() == 4 && target.dim() == 4,
              "comparison_rows: output and target must be [N, C, H, W] tensors");
  EMGAN_CHECK(ConfigError, output.sizes() == target.sizes(), "comparison_rows: output shape ", output.sizes(),
              " differs from target shape ", target.sizes());
  if (input.defined())
    EMGAN_CHECK(ConfigError, input.dim() == 4 && input.size(0) == output.size(0), "comparison_rows: input shape ",
                input.sizes(), " is not [N, C, H, W] with N = ", output.size(0));
  std::vector<std::vector<torch::Tensor>> rows;
  const int64_t n = std::min(output.size(0), max_rows);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<torch::Tensor> row;
    if (input.defined()) row.push_back(input[i][0].detach());
    const auto o = output[i][0].detach(), t = target[i][0].detach();
    row.push_back(o);
    row.push_back(t);
    row.push_back(o.to(torch::kFloat) - t.to(torch::kFloat));
    rows.push_back(std::move(row));
  }
  return rows;
}

GridOptions comparison_options(bool has_input, int64_t rows, bool input_own_window) {
  GridOptions o;
  std::vector<std::string> titles;
  if (has_input) titles.push_back("input");
  titles.insert(titles.end(), {"output", "target", "output - target"});
  std::vector<std::string> labels;
  for (int64_t i = 0; i < rows; ++i) labels.push_back("sample " + std::to_string(i));
  o.column_titles(titles).row_labels(labels).difference_columns({has_input ? 3 : 2});
  if (has_input && input_own_window) o.own_window_columns({0});
  return o;
}

}  // namespace emgan::report
