// Line charts, histograms, bar charts, and learning curves from metrics logs.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "emgan/core/fs.h"
#include "emgan/core/config.h"
#include "emgan/core/error.h"
#include "emgan/report/charts.h"
#include "emgan/report/metrics_log.h"

namespace emgan::report {

// ---------------------------------------------------------------------------
// Ticks
// ---------------------------------------------------------------------------

double nice_step(double raw_step) {
  EMGAN_CHECK(ConfigError, raw_step > 0.0 && std::isfinite(raw_step), "nice_step: step ", raw_step,
              " must be finite and > 0");
  const double e = std::floor(std::log10(raw_step));
  const double base = std::pow(10.0, e);
  const double f = raw_step / base;
  const double nice = f <= 1.0 + 1e-9 ? 1.0 : f <= 2.0 + 1e-9 ? 2.0 : f <= 5.0 + 1e-9 ? 5.0 : 10.0;
  return nice * base;
}

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  EMGAN_CHECK(ConfigError, std::isfinite(lo) && std::isfinite(hi), "nice_ticks: range [", lo, ", ", hi,
              "] must be finite");
  EMGAN_CHECK(ConfigError, max_ticks >= 2, "nice_ticks: max_ticks ", max_ticks, " must be >= 2");
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) return {lo};
  const double step = nice_step((hi - lo) / (max_ticks - 1));
  std::vector<double> ticks;
  const double first = std::ceil(lo / step - 1e-9);
  for (double k = first;; k += 1.0) {
    double v = k * step;
    if (v > hi + step * 1e-9) break;
    if (std::abs(v) < step * 1e-9) v = 0.0;
    ticks.push_back(v);
  }
  return ticks;
}

namespace {

std::string trim_exponent(std::string s) {
  // "2.50e-05" -> "2.5e-5"
  const auto e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mant = s.substr(0, e), ex = s.substr(e + 1);
  if (mant.find('.') != std::string::npos) {
    while (!mant.empty() && mant.back() == '0') mant.pop_back();
    if (!mant.empty() && mant.back() == '.') mant.pop_back();
  }
  const char sign = ex.empty() ? '+' : ex[0];
  std::string digits = (sign == '+' || sign == '-') ? ex.substr(1) : ex;
  while (digits.size() > 1 && digits[0] == '0') digits.erase(0, 1);
  return mant + "e" + (sign == '-' ? "-" : "") + digits;
}

}  // namespace

std::string format_tick(double value, double step) {
  if (!std::isfinite(value)) return std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf");
  step = std::abs(step);
  if (step == 0.0 || !std::isfinite(step)) step = std::abs(value) > 0 ? std::abs(value) : 1.0;
  if (std::abs(value) < step * 1e-3) return "0";
  const double mag = std::abs(value);
  char buf[64];
  if (mag >= 1e6 || step < 1e-4) {
    const int sig = std::clamp(static_cast<int>(std::floor(std::log10(mag)) - std::floor(std::log10(step) + 1e-9)) + 1,
                               1, 6);
    std::snprintf(buf, sizeof buf, "%.*e", sig - 1, value);
    return trim_exponent(buf);
  }
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::vector<double> log_ticks(double lo, double hi) {
  EMGAN_CHECK(ConfigError, lo > 0.0 && hi > 0.0 && std::isfinite(lo) && std::isfinite(hi), "log_ticks: range [", lo,
              ", ", hi, "] must be finite and > 0");
  if (lo > hi) std::swap(lo, hi);
  const int e0 = static_cast<int>(std::floor(std::log10(lo))), e1 = static_cast<int>(std::ceil(std::log10(hi)));
  const auto collect = [&](const std::vector<double>& mults) {
    std::vector<double> t;
    for (int e = e0; e <= e1; ++e) {
      for (double m : mults) {
        const double v = m * std::pow(10.0, e);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
      }
    }
    return t;
  };
  const int decades = e1 - e0;
  auto t = collect(decades > 6 ? std::vector<double>{1} : decades >= 3 ? std::vector<double>{1} : std::vector<double>{1, 2, 5});
  if (decades > 6) {  // thin to at most ~7 labelled decades
    const int every = (decades + 6) / 7;
    std::vector<double> thin;
    for (double v : t)
      if (static_cast<int>(std::lround(std::log10(v))) % every == 0) thin.push_back(v);
    t = thin;
  }
  if (t.size() < 2) t = collect({1, 2, 3, 4, 5, 6, 7, 8, 9});
  return t;
}

namespace {

std::string format_log_tick(double v) {
  const double e = std::log10(v);
  char buf[64];
  if (e >= -3.0 - 1e-9 && e < 5.0) {
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.0e", v);
  return trim_exponent(buf);
}

// ---------------------------------------------------------------------------
// The frame every chart is drawn in
// ---------------------------------------------------------------------------

struct Axis {
  double lo = 0.0, hi = 1.0;           // data range (log10 of it on a log axis)
  bool log = false;
  std::vector<double> ticks;           // tick positions in data units (not log10)
  std::vector<std::string> labels;     // tick labels
  bool grid = true;
};

const Color kInk{0.15, 0.15, 0.15};
const Color kMuted{0.35, 0.35, 0.35};
const Color kGridColor{0.9, 0.9, 0.9};

void check_chart_options(const ChartOptions& o) {
  EMGAN_CHECK(ConfigError, o.width() >= 200 && o.width() <= 8000, "chart width ", o.width(), ": expected 200..8000");
  EMGAN_CHECK(ConfigError, o.height() >= 150 && o.height() <= 8000, "chart height ", o.height(),
              ": expected 150..8000");
  EMGAN_CHECK(ConfigError, o.text_scale() >= 1 && o.text_scale() <= 8, "chart text_scale ", o.text_scale(),
              ": expected 1..8");
  EMGAN_CHECK(ConfigError, o.line_width() > 0.0 && o.line_width() <= 50.0, "chart line_width ", o.line_width(),
              ": expected (0, 50]");
}

// A numeric axis over [lo, hi] (data units) with ticks fitting `pixels`.
Axis numeric_axis(double lo, double hi, bool log, int64_t pixels, int64_t pixels_per_tick) {
  Axis a;
  a.log = log;
  if (log) {
    a.lo = std::log10(lo);
    a.hi = std::log10(hi);
    a.ticks = log_ticks(lo, hi);
    for (double t : a.ticks) a.labels.push_back(format_log_tick(t));
    return a;
  }
  a.lo = lo;
  a.hi = hi;
  const int max_ticks = static_cast<int>(std::max<int64_t>(2, pixels / std::max<int64_t>(pixels_per_tick, 1)));
  a.ticks = nice_ticks(lo, hi, max_ticks);
  const double step = a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : std::abs(hi - lo);
  for (double t : a.ticks) a.labels.push_back(format_tick(t, step));
  return a;
}

// Range of finite values, expanded by `margin` (fraction) and made non-empty.
std::pair<double, double> padded_range(double lo, double hi, double margin, bool log) {
  if (!(lo <= hi)) return log ? std::pair{1.0, 10.0} : std::pair{0.0, 1.0};
  if (log) {
    double a = std::log10(lo), b = std::log10(hi);
    if (b - a < 1e-12) a -= 0.5, b += 0.5;
    const double m = (b - a) * margin;
    return {std::pow(10.0, a - m), std::pow(10.0, b + m)};
  }
  if (hi - lo <= std::abs(hi) * 1e-12) {
    const double d = lo == 0.0 ? 0.5 : std::abs(lo) * 0.1;
    return {lo - d, hi + d};
  }
  const double m = (hi - lo) * margin;
  return {lo - m, hi + m};
}

struct LegendEntry {
  std::string name;
  Color color;
  bool swatch = false;  // a filled square instead of a line sample
  bool marker = false;
  bool dashed = false;
};

class Frame {
 public:
  Frame(const ChartOptions& o, Axis x, Axis y) : o_(o), x_(std::move(x)), y_(std::move(y)), canvas_(o.height(), o.width()) {
    const int ts = o.text_scale();
    int64_t ylab_w = 0;
    for (const auto& l : y_.labels) ylab_w = std::max(ylab_w, text_width(l, ts));
    pad_ = 6 * ts;
    left_ = pad_ + (o.y_label().empty() ? 0 : text_height(ts) + 3 * ts) + ylab_w + 5 * ts;
    top_ = pad_ + (o.title().empty() ? 0 : text_height(ts + 1) + 4 * ts);
    int64_t last_w = x_.labels.empty() ? 0 : text_width(x_.labels.back(), ts);
    right_ = o.width() - std::max<int64_t>(pad_ + 2 * ts, last_w / 2 + pad_);
    bottom_ = o.height() - (pad_ + text_height(ts) + 5 * ts + (o.x_label().empty() ? 0 : text_height(ts) + 3 * ts));
    EMGAN_CHECK(ConfigError, right_ - left_ >= 40 && bottom_ - top_ >= 40, "chart ", o.width(), " x ", o.height(),
                " pixels is too small for its labels at text_scale ", ts);
    plot_ = std::make_unique<Canvas>(bottom_ - top_, right_ - left_);
    for (size_t i = 0; i < y_.ticks.size() && y_.grid && o.grid(); ++i) {
      const double py = std::round(Y(y_.ticks[i])) + 0.5;
      plot_->line(0, py, static_cast<double>(plot_->width()), py, kGridColor, 1.0);
    }
    for (size_t i = 0; i < x_.ticks.size() && x_.grid && o.grid(); ++i) {
      const double px = std::round(X(x_.ticks[i])) + 0.5;
      plot_->line(px, 0, px, static_cast<double>(plot_->height()), kGridColor, 1.0);
    }
  }

  // Pixel coordinates inside the plot canvas of data values.
  double X(double v) const {
    const double t = x_.log ? std::log10(v) : v;
    return (t - x_.lo) / (x_.hi - x_.lo) * static_cast<double>(plot_->width());
  }
  double Y(double v) const {
    if (y_.log && !(v > 0.0)) return std::numeric_limits<double>::quiet_NaN();
    const double t = y_.log ? std::log10(v) : v;
    return (1.0 - (t - y_.lo) / (y_.hi - y_.lo)) * static_cast<double>(plot_->height());
  }
  Canvas& plot() { return *plot_; }

  // Puts the legend in the plot corner covering the fewest of `points` (plot pixels).
  void legend(const std::vector<LegendEntry>& entries, const std::vector<std::pair<double, double>>& points) {
    std::vector<LegendEntry> named;
    for (const auto& e : entries)
      if (!e.name.empty()) named.push_back(e);
    if (named.empty() || !o_.legend()) return;
    const int ts = o_.text_scale();
    const int64_t row_h = text_height(ts) + 2 * ts, sample_w = 12 * ts;
    int64_t text_w = 0;
    for (const auto& e : named) text_w = std::max(text_w, text_width(e.name, ts));
    const int64_t bw = 4 * ts + sample_w + 3 * ts + text_w + 4 * ts;
    const int64_t bh = 3 * ts + static_cast<int64_t>(named.size()) * row_h + ts;
    const int64_t pw = plot_->width(), ph = plot_->height(), m = 4 * ts;
    const std::pair<int64_t, int64_t> corners[] = {{pw - bw - m, m}, {m, m}, {pw - bw - m, ph - bh - m}, {m, ph - bh - m}};
    int64_t best = 0, best_count = std::numeric_limits<int64_t>::max();
    for (int64_t k = 0; k < 4; ++k) {
      const auto [cx, cy] = corners[k];
      int64_t count = 0;
      for (const auto& [px, py] : points)
        if (px >= cx && px <= cx + bw && py >= cy && py <= cy + bh) ++count;
      if (count < best_count) best = k, best_count = count;
    }
    const auto [bx, by] = corners[best];
    plot_->fill_rect(static_cast<double>(bx), static_cast<double>(by), static_cast<double>(bx + bw),
                     static_cast<double>(by + bh), Color{1, 1, 1}, 0.88);
    plot_->stroke_rect(static_cast<double>(bx), static_cast<double>(by), static_cast<double>(bx + bw),
                       static_cast<double>(by + bh), Color{0.8, 0.8, 0.8}, 1.0);
    for (size_t i = 0; i < named.size(); ++i) {
      const double ry = static_cast<double>(by + 3 * ts + static_cast<int64_t>(i) * row_h);
      const double mid = ry + static_cast<double>(font::kGlyphHeight * ts) / 2.0;
      const double sx = static_cast<double>(bx + 4 * ts);
      const auto& e = named[i];
      if (e.swatch) {
        plot_->fill_rect(sx, mid - 3.5 * ts, sx + sample_w, mid + 3.5 * ts, e.color, 0.6);
        plot_->stroke_rect(sx, mid - 3.5 * ts, sx + sample_w, mid + 3.5 * ts, e.color, 1.0);
      } else {
        plot_->polyline({sx, sx + static_cast<double>(sample_w)}, {mid, mid}, e.color, o_.line_width(),
                        e.dashed ? 4.0 * ts : 0.0);
        if (e.marker)
          plot_->markers({sx + static_cast<double>(sample_w) / 2.0}, {mid}, Marker::kCircle, 2.0 * o_.line_width() + 3.0,
                         e.color);
      }
      plot_->text(sx + static_cast<double>(sample_w + 3 * ts), ry, e.name, kInk, ts);
    }
  }

  // Draws the plot, axes, ticks, labels and title; returns the image.
  torch::Tensor finish() {
    const int ts = o_.text_scale();
    canvas_.paste(plot_->pixels(), left_, top_);
    const double l = static_cast<double>(left_), r = static_cast<double>(right_);
    const double t = static_cast<double>(top_), b = static_cast<double>(bottom_);
    canvas_.stroke_rect(l - 1, t - 1, r + 1, b + 1, Color{0.55, 0.55, 0.55}, 1.0);
    canvas_.fill_rect(l - 1, b, r + 1, b + 1, kInk);  // x axis line
    canvas_.fill_rect(l - 1, t - 1, l, b + 1, kInk);  // y axis line
    const double tick = 2.0 * ts + 1;
    for (size_t i = 0; i < x_.ticks.size(); ++i) {
      const double px = l + std::round(X(x_.ticks[i])) + 0.5;
      if (px < l - 1 || px > r + 1) continue;
      canvas_.line(px, b + 1, px, b + 1 + tick, kInk, 1.0);
      canvas_.text(px, b + tick + 3 * ts, x_.labels[i], kInk, ts, Align::kCenter);
    }
    for (size_t i = 0; i < y_.ticks.size(); ++i) {
      const double py = t + std::round(Y(y_.ticks[i])) + 0.5;
      if (!(py >= t - 1 && py <= b + 1)) continue;
      canvas_.line(l - 1 - tick, py, l - 1, py, kInk, 1.0);
      canvas_.text(l - tick - 3 * ts, py - static_cast<double>(font::kGlyphHeight * ts) / 2.0, y_.labels[i], kInk, ts,
                   Align::kRight);
    }
    if (!o_.x_label().empty())
      canvas_.text((l + r) / 2.0, static_cast<double>(o_.height() - pad_ - text_height(ts)), o_.x_label(), kInk, ts,
                   Align::kCenter);
    if (!o_.y_label().empty())
      canvas_.text(static_cast<double>(pad_), (t + b) / 2.0, o_.y_label(), kInk, ts, Align::kCenter, true);
    if (!o_.title().empty())
      canvas_.text(static_cast<double>(o_.width()) / 2.0, static_cast<double>(pad_), o_.title(), Color{0, 0, 0}, ts + 1,
                   Align::kCenter);
    return canvas_.pixels();
  }

  const Axis& x_axis() const { return x_; }

 private:
  ChartOptions o_;
  Axis x_, y_;
  Canvas canvas_;
  std::unique_ptr<Canvas> plot_;
  int64_t pad_ = 0, left_ = 0, top_ = 0, right_ = 0, bottom_ = 0;
};

// Approximate pixel extents of the plot area for choosing tick counts.
int64_t approx_plot_width(const ChartOptions& o) { return o.width() - 40 * o.text_scale(); }
int64_t approx_plot_height(const ChartOptions& o) {
  return o.height() - (o.title().empty() ? 20 : 35) * o.text_scale() - 20 * o.text_scale();
}

// An x axis whose tick labels do not overlap.
Axis fitted_x_axis(double lo, double hi, bool log, const ChartOptions& o) {
  const int64_t pw = approx_plot_width(o);
  for (int64_t per = 90; per < 2000; per += 30) {
    Axis a = numeric_axis(lo, hi, log, pw, per);
    int64_t widest = 0;
    for (const auto& l : a.labels) widest = std::max(widest, text_width(l, o.text_scale()));
    const double spacing = a.ticks.size() > 1 ? static_cast<double>(pw) / static_cast<double>(a.ticks.size()) : 1e9;
    if (static_cast<double>(widest) + 8.0 * o.text_scale() <= spacing || a.ticks.size() <= 2) return a;
  }
  return numeric_axis(lo, hi, log, pw, pw);
}

Axis fitted_y_axis(double lo, double hi, bool log, const ChartOptions& o) {
  return numeric_axis(lo, hi, log, approx_plot_height(o), 22 * o.text_scale() + 16);
}

}  // namespace

// ---------------------------------------------------------------------------
// Line chart
// ---------------------------------------------------------------------------

torch::Tensor render_line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  check_chart_options(o);
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  size_t points = 0;
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    EMGAN_CHECK(ConfigError, s.x.empty() || s.x.size() == s.y.size(), "line chart series ", k, " \"", s.name, "\": ",
                s.x.size(), " x values but ", s.y.size(), " y values");
    for (size_t i = 0; i < s.y.size(); ++i) {
      const double x = s.x.empty() ? static_cast<double>(i) : s.x[i], y = s.y[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (o.log_y() && y <= 0.0)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      ++points;
    }
  }
  EMGAN_CHECK(ConfigError, points > 0, "line chart \"", o.title(), "\": no finite point in ", series.size(),
              " series", o.log_y() ? " (log y axis: values must be > 0)" : "");
  auto [xl, xh] = padded_range(x0, x1, 0.0, false);
  auto [yl, yh] = padded_range(y0, y1, 0.05, o.log_y());
  if (o.x_min()) xl = *o.x_min();
  if (o.x_max()) xh = *o.x_max();
  if (o.y_min()) yl = *o.y_min();
  if (o.y_max()) yh = *o.y_max();
  EMGAN_CHECK(ConfigError, xh > xl && yh > yl && (!o.log_y() || yl > 0.0), "line chart axis range x [", xl, ", ", xh,
              "], y [", yl, ", ", yh, "]: expected max > min (and min > 0 on a log axis)");

  Frame frame(o, fitted_x_axis(xl, xh, false, o), fitted_y_axis(yl, yh, o.log_y(), o));
  std::vector<LegendEntry> legend;
  std::vector<std::pair<double, double>> all_points;
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const Color c = s.color.value_or(palette(static_cast<int>(k)));
    std::vector<double> px, py;
    for (size_t i = 0; i < s.y.size(); ++i) {
      px.push_back(frame.X(s.x.empty() ? static_cast<double>(i) : s.x[i]));
      py.push_back(std::isfinite(s.y[i]) ? frame.Y(s.y[i]) : std::numeric_limits<double>::quiet_NaN());
      if (std::isfinite(px.back()) && std::isfinite(py.back())) all_points.emplace_back(px.back(), py.back());
    }
    if (s.line)
      frame.plot().polyline(px, py, c, o.line_width(), s.dashed ? 4.0 * o.text_scale() : 0.0,
                            std::clamp(s.opacity, 0.0, 1.0));
    if (s.markers || s.y.size() == 1) frame.plot().markers(px, py, Marker::kCircle, 2.0 * o.line_width() + 3.0, c);
    legend.push_back({s.name, c, false, s.markers, s.dashed});
  }
  frame.legend(legend, all_points);
  return frame.finish();
}

void write_line_chart(const fs::path& path, const std::vector<Series>& series, const ChartOptions& options) {
  write_png(path, render_line_chart(series, options));
}

// ---------------------------------------------------------------------------
// Histograms
// ---------------------------------------------------------------------------

Histogram histogram(const torch::Tensor& values, int64_t bins, double lo, double hi, bool density) {
  EMGAN_CHECK(ConfigError, bins >= 1 && bins <= 100000, "histogram: bins ", bins, " must be in 1..100000");
  EMGAN_CHECK(ConfigError, std::isfinite(lo) && std::isfinite(hi) && hi > lo, "histogram: range [", lo, ", ", hi,
              "] must be finite with hi > lo");
  EMGAN_CHECK(ConfigError, values.defined(), "histogram: the values tensor is undefined");
  Histogram h;
  for (int64_t i = 0; i <= bins; ++i) h.edges.push_back(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(bins));
  auto v = values.detach().reshape({-1}).to(torch::kDouble);
  v = v.masked_select(torch::isfinite(v));
  const auto counts = torch::histc(v, bins, lo, hi).to(torch::kCPU).contiguous();
  const double* c = counts.data_ptr<double>();
  h.counts.assign(c, c + bins);
  if (density) {
    double total = 0.0;
    for (double x : h.counts) total += x;
    const double width = (hi - lo) / static_cast<double>(bins);
    for (double& x : h.counts) x = total > 0 ? x / (total * width) : 0.0;
  }
  return h;
}

std::vector<double> auto_bin_edges(const std::vector<torch::Tensor>& samples, int64_t bins) {
  EMGAN_CHECK(ConfigError, bins >= 0 && bins <= 100000, "auto_bin_edges: bins ", bins, " must be in 0..100000");
  std::vector<torch::Tensor> parts;
  for (const auto& s : samples) {
    if (!s.defined()) continue;
    auto v = s.detach().reshape({-1}).to(torch::kDouble);
    parts.push_back(v.masked_select(torch::isfinite(v)).to(torch::kCPU));
  }
  auto all = parts.empty() ? torch::empty({0}, torch::kDouble) : torch::cat(parts);
  const int64_t n = all.numel();
  if (n == 0) {
    const int64_t b = bins > 0 ? bins : 10;
    std::vector<double> e;
    for (int64_t i = 0; i <= b; ++i) e.push_back(static_cast<double>(i) / static_cast<double>(b));
    return e;
  }
  const auto sorted = std::get<0>(all.sort());
  const double* v = sorted.data_ptr<double>();
  double lo = v[0], hi = v[n - 1];
  if (hi - lo <= std::abs(hi) * 1e-12) {
    const double d = lo == 0.0 ? 0.5 : std::abs(lo) * 0.05;
    lo -= d, hi += d;
  }
  if (bins > 0) {
    std::vector<double> e;
    for (int64_t i = 0; i <= bins; ++i) e.push_back(lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(bins));
    return e;
  }
  const double iqr = v[(3 * (n - 1)) / 4] - v[(n - 1) / 4];
  double count = iqr > 0 ? (hi - lo) / (2.0 * iqr / std::cbrt(static_cast<double>(n))) : std::sqrt(static_cast<double>(n));
  count = std::clamp(std::ceil(count), 5.0, 100.0);
  const double step = nice_step((hi - lo) / count);
  const double a = std::floor(lo / step + 1e-9) * step, b = std::ceil(hi / step - 1e-9) * step;
  const auto nb = std::max<int64_t>(1, static_cast<int64_t>(std::llround((b - a) / step)));
  std::vector<double> e;
  for (int64_t i = 0; i <= nb; ++i) e.push_back(a + step * static_cast<double>(i));
  return e;
}

torch::Tensor render_histogram(const std::vector<HistogramSeries>& series, const HistogramOptions& options) {
  const ChartOptions& o = options.chart();
  check_chart_options(o);
  EMGAN_CHECK(ConfigError, !series.empty(), "histogram chart \"", o.title(), "\": no data series");
  EMGAN_CHECK(ConfigError, options.fill_opacity() >= 0.0 && options.fill_opacity() <= 1.0,
              "histogram fill_opacity ", options.fill_opacity(), ": expected 0..1");
  std::vector<torch::Tensor> samples;
  for (const auto& s : series) samples.push_back(s.values);
  const auto edges = auto_bin_edges(samples, options.bins());
  const int64_t bins = static_cast<int64_t>(edges.size()) - 1;
  std::vector<Histogram> hs;
  double cmax = 0.0, cmin_pos = 1e300;
  for (size_t k = 0; k < series.size(); ++k) {
    EMGAN_CHECK(ConfigError, series[k].values.defined(), "histogram series ", k, " \"", series[k].name,
                "\": undefined tensor");
    hs.push_back(histogram(series[k].values, bins, edges.front(), edges.back(), options.density()));
    for (double c : hs.back().counts) {
      cmax = std::max(cmax, c);
      if (c > 0) cmin_pos = std::min(cmin_pos, c);
    }
  }
  double xl = edges.front(), xh = edges.back();
  if (o.x_min()) xl = *o.x_min();
  if (o.x_max()) xh = *o.x_max();
  double yl, yh;
  if (o.log_y()) {
    if (cmax <= 0) cmax = 1, cmin_pos = 1;
    yl = o.y_min().value_or(std::pow(10.0, std::floor(std::log10(cmin_pos * 0.9))));
    yh = o.y_max().value_or(cmax * 1.6);
  } else {
    yl = o.y_min().value_or(0.0);
    yh = o.y_max().value_or(cmax > 0 ? cmax * 1.08 : 1.0);
  }
  EMGAN_CHECK(ConfigError, xh > xl && yh > yl && (!o.log_y() || yl > 0.0), "histogram axis range x [", xl, ", ", xh,
              "], y [", yl, ", ", yh, "]: expected max > min (and min > 0 on a log axis)");
  ChartOptions oo = o;
  if (oo.y_label().empty()) oo.y_label(options.density() ? "density" : "count");
  Frame frame(oo, fitted_x_axis(xl, xh, false, oo), fitted_y_axis(yl, yh, o.log_y(), oo));
  std::vector<LegendEntry> legend;
  std::vector<std::pair<double, double>> pts;
  const double base = frame.Y(o.log_y() ? yl : std::max(yl, 0.0));
  // All fills first, then all outlines, so that no outline hides under another fill.
  std::vector<std::vector<double>> outline_x(series.size()), outline_y(series.size());
  for (size_t k = 0; k < series.size(); ++k) {
    const Color c = series[k].color.value_or(palette(static_cast<int>(k)));
    auto& sx = outline_x[k];
    auto& sy = outline_y[k];
    for (int64_t i = 0; i < bins; ++i) {
      const double a = frame.X(edges[i]), b = frame.X(edges[i + 1]);
      const double cnt = hs[k].counts[i];
      const double top = cnt > 0 ? frame.Y(cnt) : base;
      if (cnt > 0 && std::isfinite(top)) {
        frame.plot().fill_rect(a, top, b, base, c, options.fill_opacity());
        for (double py = top; py <= base; py += 4.0)  // the legend avoids the bars
          for (double px = a; px <= b; px += 4.0) pts.emplace_back(px, py);
      }
      const double ty = std::isfinite(top) ? top : base;
      sx.insert(sx.end(), {a, b});
      sy.insert(sy.end(), {ty, ty});
    }
    sx.insert(sx.begin(), sx.front());
    sy.insert(sy.begin(), base);
    sx.push_back(sx.back());
    sy.push_back(base);
    legend.push_back({series[k].name, c, true});
  }
  for (size_t k = 0; k < series.size(); ++k)
    frame.plot().polyline(outline_x[k], outline_y[k], legend[k].color, std::max(1.5, o.line_width() * 0.75));
  frame.legend(legend, pts);
  return frame.finish();
}

void write_histogram(const fs::path& path, const std::vector<HistogramSeries>& series, const HistogramOptions& options) {
  write_png(path, render_histogram(series, options));
}

// ---------------------------------------------------------------------------
// Bar chart
// ---------------------------------------------------------------------------

torch::Tensor render_bar_chart(const std::vector<std::string>& categories, const std::vector<BarSeries>& series,
                               const ChartOptions& o) {
  check_chart_options(o);
  EMGAN_CHECK(ConfigError, !categories.empty() && !series.empty(), "bar chart \"", o.title(), "\": ",
              categories.size(), " categories and ", series.size(), " series; expected at least one of each");
  double vmin = 0.0, vmax = 0.0;
  for (size_t k = 0; k < series.size(); ++k) {
    EMGAN_CHECK(ConfigError, series[k].values.size() == categories.size(), "bar chart series ", k, " \"",
                series[k].name, "\": ", series[k].values.size(), " values for ", categories.size(), " categories");
    for (double v : series[k].values)
      if (std::isfinite(v)) vmin = std::min(vmin, v), vmax = std::max(vmax, v);
  }
  EMGAN_CHECK(ConfigError, !o.log_y(), "bar chart: log_y is not supported");
  const double span = vmax - vmin > 0 ? vmax - vmin : 1.0;
  const double yl = o.y_min().value_or(vmin < 0 ? vmin - 0.08 * span : 0.0);
  // Headroom above the tallest bar for its value label and, with several series,
  // the legend (so that it does not hide a bar).
  const int ts = o.text_scale();
  const double legend_px =
      series.size() > 1 && o.legend()
          ? static_cast<double>(8 * ts + static_cast<int64_t>(series.size()) * (text_height(ts) + 2 * ts))
          : 0.0;
  const double room = std::min(0.6, (legend_px + text_height(ts) + 4.0 * ts) /
                                        static_cast<double>(std::max<int64_t>(approx_plot_height(o), 1)));
  const double yh = o.y_max().value_or(vmax > 0 ? vmax + (vmax - std::min(vmin, 0.0)) * room / (1.0 - room)
                                                : (vmax - vmin > 0 ? 0.0 : 1.0));
  EMGAN_CHECK(ConfigError, yh > yl, "bar chart y range [", yl, ", ", yh, "]: expected max > min");

  const auto ncat = static_cast<double>(categories.size());
  Axis x;
  x.lo = 0.0;
  x.hi = ncat;
  x.grid = false;
  for (size_t i = 0; i < categories.size(); ++i) {
    x.ticks.push_back(static_cast<double>(i) + 0.5);
    x.labels.push_back(categories[i]);
  }
  Frame frame(o, x, fitted_y_axis(yl, yh, false, o));
  const double slot = frame.X(1.0) - frame.X(0.0);
  const double group = slot * 0.8;
  const double bar = group / static_cast<double>(series.size());
  const double base = frame.Y(std::clamp(0.0, yl, yh));
  const int cs = std::max(1, o.text_scale() - 1);
  std::vector<LegendEntry> legend;
  std::vector<std::pair<double, double>> pts;
  for (size_t k = 0; k < series.size(); ++k) {
    const Color c = series[k].color.value_or(palette(static_cast<int>(k)));
    for (size_t i = 0; i < categories.size(); ++i) {
      const double v = series[k].values[i];
      if (!std::isfinite(v)) continue;
      const double a = frame.X(static_cast<double>(i)) + (slot - group) / 2.0 + bar * static_cast<double>(k);
      const double top = frame.Y(v);
      frame.plot().fill_rect(a + 1, std::min(top, base), a + bar - 1, std::max(top, base), c, 0.9);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3g", v);
      int scale = o.text_scale();  // value label above (below, if negative) the bar, if it fits
      while (scale > cs && text_width(buf, scale) > bar - 2) --scale;
      if (text_width(buf, scale) <= bar - 2)
        frame.plot().text(a + bar / 2.0, v >= 0 ? top - text_height(scale) : top + 3.0, buf, kMuted, scale,
                          Align::kCenter);
      for (double sy = std::min(top, base); sy <= std::max(top, base); sy += 4.0)  // the bar's extent
        for (double sx = a; sx <= a + bar; sx += 4.0) pts.emplace_back(sx, sy);
      pts.emplace_back(a + bar / 2, top - text_height(scale));
    }
    legend.push_back({series[k].name, c, true});
  }
  frame.plot().line(0, std::round(base) + 0.5, static_cast<double>(frame.plot().width()), std::round(base) + 0.5, kInk,
                    1.0);
  if (series.size() > 1) frame.legend(legend, pts);
  return frame.finish();
}

void write_bar_chart(const fs::path& path, const std::vector<std::string>& categories,
                     const std::vector<BarSeries>& series, const ChartOptions& options) {
  write_png(path, render_bar_chart(categories, series, options));
}

// ---------------------------------------------------------------------------
// Metrics logs
// ---------------------------------------------------------------------------

bool MetricsTable::has(const std::string& name) const {
  return std::find(columns.begin(), columns.end(), name) != columns.end();
}

const std::vector<double>& MetricsTable::column(const std::string& name) const {
  const auto it = std::find(columns.begin(), columns.end(), name);
  EMGAN_CHECK(ConfigError, it != columns.end(), "metrics log column \"", name, "\" not found; known columns: ",
              join(columns));
  return values[static_cast<size_t>(it - columns.begin())];
}

namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  std::string t = s.substr(a, b - a);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
  return t;
}

std::vector<std::string> split_csv(const std::string& line) {
  auto cells = split_csv_line(line);
  for (auto& c : cells) c = trim(c);
  return cells;
}

double parse_number(const std::string& s) {
  if (s.empty()) return std::numeric_limits<double>::quiet_NaN();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() ? v : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

MetricsTable read_metrics_log(const fs::path& path) {
  const std::string text = read_text(path);
  const std::string ext = lower_extension(path);
  MetricsTable t;
  std::istringstream in(text);
  std::string line;
  size_t line_no = 0;
  if (ext == "jsonl" || ext == "json" || ext == "ndjson") {
    size_t rows = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (trim(line).empty()) continue;
      nlohmann::ordered_json j;  // keeps the members in file order
      try {
        j = nlohmann::ordered_json::parse(line);
      } catch (const nlohmann::ordered_json::exception& e) {
        throw IoError(detail::concat(path.string(), ":", line_no, ": invalid JSON line (", e.what(), ")"));
      }
      EMGAN_CHECK(IoError, j.is_object(), path.string(), ":", line_no, ": expected a JSON object per line");
      for (auto& col : t.values) col.push_back(std::numeric_limits<double>::quiet_NaN());
      for (const auto& [key, value] : j.items()) {
        if (!value.is_number()) continue;
        auto it = std::find(t.columns.begin(), t.columns.end(), key);
        if (it == t.columns.end()) {
          t.columns.push_back(key);
          t.values.emplace_back(rows + 1, std::numeric_limits<double>::quiet_NaN());
          it = t.columns.end() - 1;
        }
        t.values[static_cast<size_t>(it - t.columns.begin())][rows] = value.get<double>();
      }
      ++rows;
    }
    return t;
  }
  bool header = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const auto cells = split_csv(line);
    if (!header) {
      t.columns = cells;
      t.values.assign(cells.size(), {});
      header = true;
      continue;
    }
    EMGAN_CHECK(IoError, cells.size() <= t.columns.size(), path.string(), ":", line_no, ": ", cells.size(),
                " cells but the header names ", t.columns.size(), " columns");
    for (size_t c = 0; c < t.columns.size(); ++c)
      t.values[c].push_back(c < cells.size() ? parse_number(cells[c]) : std::numeric_limits<double>::quiet_NaN());
  }
  EMGAN_CHECK(IoError, header, path.string(), ": empty metrics log, expected a header row of column names");
  return t;
}

std::vector<Series> learning_curve_series(const MetricsTable& table, const LearningCurveOptions& options) {
  EMGAN_CHECK(ConfigError, options.smoothing() >= 0.0 && options.smoothing() < 1.0, "learning curves smoothing ",
              options.smoothing(), ": expected 0 <= s < 1");
  std::string xcol = options.x_column();
  if (xcol.empty())
    for (const char* c : {"step", "iteration", "epoch"})
      if (table.has(c)) {
        xcol = c;
        break;
      }
  std::vector<double> xs;
  if (!xcol.empty()) {
    xs = table.column(xcol);
  } else {
    for (size_t i = 0; i < table.rows(); ++i) xs.push_back(static_cast<double>(i));
  }
  std::vector<std::string> cols = options.columns();
  if (cols.empty()) {
    static const std::vector<std::string> kBookkeeping = {
        "step", "iteration", "epoch", "time", "wall_time", "elapsed", "elapsed_s", "timestamp", "lr",
        "learning_rate", "lr_g", "lr_d", "images_per_s", "img_per_s", "samples_per_s", "eta", "eta_s", "seconds"};
    for (const auto& c : table.columns)
      if (c != xcol && std::find(kBookkeeping.begin(), kBookkeeping.end(), c) == kBookkeeping.end()) cols.push_back(c);
  }
  std::vector<Series> out;
  for (size_t k = 0; k < cols.size(); ++k) {
    const auto& ys = table.column(cols[k]);
    const Color c = palette(static_cast<int>(k));
    if (options.smoothing() > 0.0) {
      Series raw;
      raw.x = xs;
      raw.y = ys;
      raw.color = c;
      raw.opacity = 0.25;
      raw.line = true;
      out.push_back(raw);
      // Debiased exponential moving average (as TensorBoard draws it); gaps stay gaps.
      Series sm;
      sm.name = cols[k];
      sm.x = xs;
      sm.color = c;
      double acc = 0.0, weight = 0.0;
      const double a = options.smoothing();
      for (double y : ys) {
        if (!std::isfinite(y)) {
          sm.y.push_back(std::numeric_limits<double>::quiet_NaN());
          continue;
        }
        acc = a * acc + (1 - a) * y;
        weight = a * weight + (1 - a);
        sm.y.push_back(acc / weight);
      }
      out.push_back(sm);
    } else {
      Series s;
      s.name = cols[k];
      s.x = xs;
      s.y = ys;
      s.color = c;
      out.push_back(s);
    }
  }
  return out;
}

torch::Tensor render_learning_curves(const MetricsTable& table, const LearningCurveOptions& options) {
  ChartOptions o = options.chart();
  if (o.x_label().empty()) {
    std::string xcol = options.x_column();
    if (xcol.empty())
      for (const char* c : {"step", "iteration", "epoch"})
        if (table.has(c)) {
          xcol = c;
          break;
        }
    o.x_label(xcol.empty() ? "row" : xcol);
  }
  return render_line_chart(learning_curve_series(table, options), o);
}

void write_learning_curves(const fs::path& log_path, const fs::path& png_path, const LearningCurveOptions& options) {
  write_png(png_path, render_learning_curves(read_metrics_log(log_path), options));
}

}  // namespace emgan::report
