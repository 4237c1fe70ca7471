// Single statistics of label maps: fraction, S2, surface area, TPB, chords, slice connectivity.
#include "emgan/micro/stats.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <vector>

#include "emgan/core/error.h"
#include "micro_detail.h"

namespace emgan::micro {

namespace detail {

torch::Tensor as_mask(const torch::Tensor& mask, const char* what) {
  EMGAN_CHECK(ConfigError, mask.defined() && (mask.dim() == 2 || mask.dim() == 3), what,
              ": expected a 2D [H, W] or 3D [D, H, W] mask, got ", mask.defined() ? mask.dim() : 0,
              " dimensions");
  return mask.scalar_type() == torch::kBool ? mask : mask != 0;
}

void check_axis(const torch::Tensor& t, int64_t axis, const char* what) {
  EMGAN_CHECK(ConfigError, axis >= 0 && axis < t.dim(), what, ": axis ", axis, " outside 0..", t.dim() - 1,
              " for a ", t.dim(), "D input");
}

void check_labels(const torch::Tensor& labels, const char* what) {
  EMGAN_CHECK(ConfigError, labels.defined() && (labels.dim() == 2 || labels.dim() == 3), what,
              ": expected a 2D [H, W] or 3D [D, H, W] label map, got ",
              labels.defined() ? labels.dim() : 0, " dimensions");
  EMGAN_CHECK(ConfigError, labels.numel() > 0, what, ": empty label map");
  EMGAN_CHECK(ConfigError, !labels.is_floating_point() && !labels.is_complex() && labels.scalar_type() != torch::kBool,
              what, ": labels must be an integer tensor (int64 0..P-1), got ", labels.scalar_type());
}

}  // namespace detail

using detail::as_mask;
using detail::check_axis;
using detail::check_labels;

double volume_fraction(const torch::Tensor& labels, int64_t phase) {
  check_labels(labels, "volume_fraction");
  return (labels == phase).to(torch::kDouble).mean().item<double>();
}

std::vector<double> two_point_correlation(const torch::Tensor& mask, int64_t axis, int64_t max_r, bool periodic) {
  const auto m = as_mask(mask, "two_point_correlation");
  check_axis(m, axis, "two_point_correlation");
  const int64_t n = m.size(axis);
  EMGAN_CHECK(ConfigError, max_r >= 0 && max_r < n, "two_point_correlation: max_r ", max_r,
              " must be in 0..", n - 1, " (the size along axis ", axis, " minus 1)");
  // Lines along the axis: [L, n]; processed in chunks to bound the FFT memory.
  const auto lines = m.movedim(axis, -1).reshape({-1, n});
  const int64_t num_lines = lines.size(0);
  const int64_t fft_n = periodic ? n : 2 * n;
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 23) / fft_n);
  auto acc = torch::zeros({max_r + 1}, lines.options().dtype(torch::kDouble));
  for (int64_t start = 0; start < num_lines; start += chunk) {
    const auto x = lines.narrow(0, start, std::min(chunk, num_lines - start)).to(torch::kFloat);
    const auto f = torch::fft::rfft(x, fft_n, -1);
    const auto power = torch::view_as_real(f).square().sum(-1);
    const auto corr = torch::fft::irfft(power, fft_n, -1).narrow(-1, 0, max_r + 1);
    acc += corr.to(torch::kDouble).sum(0);
  }
  auto r = torch::arange(max_r + 1, acc.options());
  const auto pairs = periodic ? torch::full_like(r, static_cast<double>(n)) : (n - r);
  auto s2 = (acc / (pairs * static_cast<double>(num_lines))).clamp(0.0, 1.0).cpu();
  // Exact S2(0): the FFT's round-off would otherwise leave ~1e-7 noise there.
  s2[0] = m.to(torch::kDouble).mean().item<double>();
  return std::vector<double>(s2.data_ptr<double>(), s2.data_ptr<double>() + max_r + 1);
}

double surface_area(const torch::Tensor& labels, int64_t phase) {
  check_labels(labels, "surface_area");
  const auto m = labels == phase;
  double faces = 0.0;
  for (int64_t d = 0; d < m.dim(); ++d) {
    const int64_t n = m.size(d);
    if (n < 2) continue;
    faces += (m.narrow(d, 0, n - 1) != m.narrow(d, 1, n - 1)).sum().item<double>();
  }
  return faces / static_cast<double>(m.numel());
}

double interface_area(const torch::Tensor& labels, int64_t a, int64_t b) {
  check_labels(labels, "interface_area");
  EMGAN_CHECK(ConfigError, a != b, "interface_area: needs two different phases, got ", a, " and ",
              b);
  double faces = 0.0;
  for (int64_t d = 0; d < labels.dim(); ++d) {
    const int64_t n = labels.size(d);
    if (n < 2) continue;
    const auto lo = labels.narrow(d, 0, n - 1), hi = labels.narrow(d, 1, n - 1);
    faces += (((lo == a) & (hi == b)) | ((lo == b) & (hi == a))).sum().item<double>();
  }
  return faces / static_cast<double>(labels.numel());
}

namespace {

/// TPB corners of the 2x2 neighbourhoods spanned by axes `a` and `b` of `labels`.
double tpb_count(const torch::Tensor& labels, int64_t a, int64_t b) {
  const int64_t na = labels.size(a), nb = labels.size(b);
  if (na < 2 || nb < 2) return 0.0;
  const auto l00 = labels.narrow(a, 0, na - 1).narrow(b, 0, nb - 1);
  const auto l01 = labels.narrow(a, 0, na - 1).narrow(b, 1, nb - 1);
  const auto l10 = labels.narrow(a, 1, na - 1).narrow(b, 0, nb - 1);
  const auto l11 = labels.narrow(a, 1, na - 1).narrow(b, 1, nb - 1);
  torch::Tensor all;
  for (int64_t p = 0; p < 3; ++p) {
    const auto has = (l00 == p) | (l01 == p) | (l10 == p) | (l11 == p);
    all = all.defined() ? (all & has) : has;
  }
  return all.sum().item<double>();
}

}  // namespace

double tpb_density(const torch::Tensor& labels) {
  check_labels(labels, "tpb_density");
  const int64_t lo = labels.min().item<int64_t>();
  const int64_t hi = labels.max().item<int64_t>();
  EMGAN_CHECK(ConfigError, lo >= 0 && hi == 2, "tpb_density: needs a 3-phase label map (labels 0..2), got labels ",
              lo, "..", hi);
  double count = 0.0;
  if (labels.dim() == 2) {
    count = tpb_count(labels, 0, 1);
  } else {
    count = tpb_count(labels, 1, 2) + tpb_count(labels, 0, 2) + tpb_count(labels, 0, 1);
  }
  return count / static_cast<double>(labels.numel());
}

Chords chord_lengths(const torch::Tensor& mask, int64_t axis, bool edge_chords) {
  const auto m = as_mask(mask, "chord_lengths");
  check_axis(m, axis, "chord_lengths");
  const int64_t n = m.size(axis);
  const auto lines = m.movedim(axis, -1).reshape({-1, n});
  const auto pad = torch::zeros({lines.size(0), 1}, lines.options());
  const auto p = torch::cat({pad, lines, pad}, 1);  // [L, n + 2]
  const auto prev = p.narrow(1, 0, n + 1);
  const auto next = p.narrow(1, 1, n + 1);
  // Transition j (between padded j and j + 1): a chord starts at original index j
  // when next & !prev, and ends before original index j when prev & !next.
  const auto starts = torch::nonzero(next & ~prev);
  const auto ends = torch::nonzero(prev & ~next);
  Chords out;
  out.counts.assign(static_cast<size_t>(n + 1), 0);
  if (starts.size(0) == 0) return out;
  const auto s = starts.select(1, 1);
  const auto e = ends.select(1, 1);
  auto length = e - s;
  if (!edge_chords) length = length.masked_select((s > 0) & (e < n));
  if (length.numel() == 0) return out;
  const auto counts = torch::bincount(length, {}, n + 1).cpu();
  const auto acc = counts.accessor<int64_t, 1>();
  double total = 0.0;
  for (int64_t l = 0; l <= n; ++l) {
    out.counts[l] = acc[l];
    out.number += acc[l];
    total += static_cast<double>(acc[l]) * l;
  }
  out.mean = out.number > 0 ? total / static_cast<double>(out.number) : 0.0;
  return out;
}

double chord_distance(const Chords& a, const Chords& b) {
  if (a.number <= 0 || b.number <= 0) return std::numeric_limits<double>::quiet_NaN();
  const double na = static_cast<double>(a.number), nb = static_cast<double>(b.number);
  const size_t n = std::max(a.counts.size(), b.counts.size());
  double sum = 0.0;
  for (size_t l = 0; l < n; ++l) {
    const double p = l < a.counts.size() ? static_cast<double>(a.counts[l]) / na : 0.0;
    const double q = l < b.counts.size() ? static_cast<double>(b.counts[l]) / nb : 0.0;
    sum += std::abs(p - q);
  }
  return 0.5 * sum;
}

namespace {

/// Sum over the tiles of one [h, w] slice (row-major, `row` = stride of a row) of
/// the fraction of the phase in the tile's largest 4-connected cluster, and the
/// number of tiles holding the phase. `seen` and `stack` are scratch buffers.
void slice_tiles(const bool* m, int64_t row, int64_t h, int64_t w, int64_t th, int64_t tw,
                 std::vector<uint8_t>& seen, std::vector<int64_t>& stack, double& sum,
                 int64_t& tiles) {
  seen.assign(static_cast<size_t>(th * tw), 0);
  for (int64_t ty = 0; ty + th <= h; ty += th) {
    for (int64_t tx = 0; tx + tw <= w; tx += tw) {
      std::fill(seen.begin(), seen.end(), 0);
      auto in = [&](int64_t i) { return m[(ty + i / tw) * row + tx + i % tw]; };
      int64_t total = 0, largest = 0;
      for (int64_t start = 0; start < th * tw; ++start) {
        if (seen[start] || !in(start)) continue;
        int64_t size = 0;
        stack.clear();
        stack.push_back(start);
        seen[start] = 1;
        while (!stack.empty()) {
          const int64_t i = stack.back();
          stack.pop_back();
          ++size;
          const int64_t y = i / tw, x = i % tw;
          const int64_t next[4] = {y > 0 ? i - tw : -1, y + 1 < th ? i + tw : -1,
                                   x > 0 ? i - 1 : -1, x + 1 < tw ? i + 1 : -1};
          for (int64_t j : next)
            if (j >= 0 && !seen[j] && in(j)) {
              seen[j] = 1;
              stack.push_back(j);
            }
        }
        total += size;
        largest = std::max(largest, size);
      }
      if (total > 0) {
        sum += static_cast<double>(largest) / static_cast<double>(total);
        ++tiles;
      }
    }
  }
}

}  // namespace

double slice_connectivity(const torch::Tensor& mask, int64_t window, int64_t normal) {
  const auto m = as_mask(mask, "slice_connectivity");
  EMGAN_CHECK(ConfigError, window >= 2, "slice_connectivity: window ", window,
              " must be >= 2 pixels");
  torch::Tensor slices;  // [N, H, W] bool, contiguous, on the CPU
  if (m.dim() == 2) {
    EMGAN_CHECK(ConfigError, normal == -1,
                "slice_connectivity: a 2D mask is one slice; normal must be -1, got ", normal);
    slices = m.unsqueeze(0);
  } else {
    check_axis(m, normal, "slice_connectivity");
    slices = m.movedim(normal, 0);
  }
  slices = slices.to(torch::kCPU).contiguous();
  const int64_t n = slices.size(0), h = slices.size(1), w = slices.size(2);
  const int64_t th = std::min(h, window), tw = std::min(w, window);
  const bool* data = slices.data_ptr<bool>();
  std::vector<double> sums(static_cast<size_t>(n), 0.0);
  std::vector<int64_t> counts(static_cast<size_t>(n), 0);
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    std::vector<uint8_t> seen;
    std::vector<int64_t> stack;
    for (int64_t k = begin; k < end; ++k)
      slice_tiles(data + k * h * w, w, h, w, th, tw, seen, stack, sums[k], counts[k]);
  });
  double sum = 0.0;
  int64_t tiles = 0;
  for (int64_t k = 0; k < n; ++k) {
    sum += sums[k];
    tiles += counts[k];
  }
  return tiles > 0 ? sum / static_cast<double>(tiles) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace emgan::micro
