// Tortuosity factor by a steady-state diffusion solve (the TauFactor method).
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/micro/stats.h"
#include "micro_detail.h"

namespace emgan::micro {

namespace {

/// Voxels of the bool CPU volume `m` ([A, B, C] contiguous) reachable from the
/// layer `layer` of axis 0 through 6-connected voxels of `m`.
std::vector<uint8_t> flood_from_layer(const torch::Tensor& m, int64_t layer) {
  const int64_t a = m.size(0), b = m.size(1), c = m.size(2);
  const int64_t plane = b * c;
  const bool* in = m.data_ptr<bool>();
  std::vector<uint8_t> seen(static_cast<size_t>(a * plane), 0);
  std::vector<int64_t> queue;
  queue.reserve(static_cast<size_t>(plane));
  for (int64_t k = 0; k < plane; ++k) {
    const int64_t idx = layer * plane + k;
    if (in[idx]) {
      seen[idx] = 1;
      queue.push_back(idx);
    }
  }
  for (size_t head = 0; head < queue.size(); ++head) {
    const int64_t idx = queue[head];
    const int64_t i = idx / plane;
    const int64_t rem = idx - i * plane;
    const int64_t j = rem / c;
    const int64_t k = rem - j * c;
    auto visit = [&](int64_t n) {
      if (in[n] && !seen[n]) {
        seen[n] = 1;
        queue.push_back(n);
      }
    };
    if (i > 0) visit(idx - plane);
    if (i + 1 < a) visit(idx + plane);
    if (j > 0) visit(idx - c);
    if (j + 1 < b) visit(idx + c);
    if (k > 0) visit(idx - 1);
    if (k + 1 < c) visit(idx + 1);
  }
  return seen;
}

/// [N, H, W] view of a 2D/3D mask with the transport axis first (2D gets W = 1).
torch::Tensor transport_first(const torch::Tensor& m, int64_t axis) {
  auto t = m.movedim(axis, 0);
  if (t.dim() == 2) t = t.unsqueeze(-1);
  return t;
}

/// Percolating cluster of a [N, H, W] bool mask along axis 0 (same device).
torch::Tensor cluster_first(const torch::Tensor& m) {
  const auto cpu = m.to(torch::kCPU).contiguous();
  const int64_t n = cpu.size(0);
  const auto from_in = flood_from_layer(cpu, 0);
  const auto from_out = flood_from_layer(cpu, n - 1);
  auto out = torch::zeros(cpu.sizes(), torch::TensorOptions().dtype(torch::kBool));
  bool* o = out.data_ptr<bool>();
  for (size_t i = 0; i < from_in.size(); ++i) o[i] = from_in[i] && from_out[i];
  return out.to(m.device());
}

struct Solve {
  torch::Tensor c;          // [N, H, W] concentration (0 outside the cluster)
  double flux = 0.0;        // mean of inlet and outlet flux (unit diffusivity, unit voxel)
  double imbalance = 0.0;
  int64_t iterations = 0;
  bool converged = false;
};

/// The over-relaxation factor: the option, or 2 / (1 + sin(pi / (4 N))) for the
/// longest side N. The optimum for an open box would use N itself; diffusion
/// paths through a real phase are longer and measured solves on electrode volumes
/// converged 2-4x faster with the 4 N estimate.
double relaxation(const TauOptions& o, int64_t n, int64_t h, int64_t w) {
  double omega = o.omega();
  if (omega <= 0.0) {
    const double longest = static_cast<double>(std::max({n, h, w}));
    omega = 2.0 / (1.0 + std::sin(M_PI / (4.0 * longest)));
  }
  EMGAN_CHECK(ConfigError, omega > 0.0 && omega < 2.0, "tortuosity: omega ", omega, " must be in (0, 2)");
  return omega;
}

/// Convergence test shared by both solvers; updates `s` and returns true when done.
bool check_flux(Solve& s, double f_in, double f_out, double& previous, double tolerance) {
  const double f = 0.5 * (f_in + f_out);
  s.flux = f;
  s.imbalance = f > 0 ? std::abs(f_in - f_out) / f : std::numeric_limits<double>::infinity();
  const double change = std::abs(f - previous) / f;
  previous = f;
  return s.imbalance < tolerance && change < tolerance;
}

/// Red-black SOR as a compiled loop over the cluster voxels only (CPU): the same
/// scheme, update order and result as sor_tensor, several times faster for sparse
/// phases.
Solve sor_cpu(const torch::Tensor& m_in, const torch::Tensor& init_in, const TauOptions& o, double tolerance) {
  const auto m = m_in.to(torch::kDouble).contiguous();
  const int64_t n = m.size(0), h = m.size(1), w = m.size(2);
  const double omega = relaxation(o, n, h, w);
  const int64_t h2 = h + 2, w2 = w + 2, plane2 = h2 * w2;
  std::vector<double> c(static_cast<size_t>((n + 2) * plane2), 0.0);
  const double* mp = m.data_ptr<double>();
  torch::Tensor init = init_in.defined() ? init_in.to(torch::kDouble).contiguous() : torch::Tensor();
  const double* ip = init.defined() ? init.data_ptr<double>() : nullptr;
  struct Cell {
    int64_t idx;
    double inv_g;
    double src;
  };
  std::vector<Cell> cells[2];
  std::vector<int64_t> inlet, outlet;
  auto in = [&](int64_t i, int64_t j, int64_t k) {
    return i >= 0 && i < n && j >= 0 && j < h && k >= 0 && k < w && mp[(i * h + j) * w + k] > 0;
  };
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < h; ++j)
      for (int64_t k = 0; k < w; ++k) {
        if (!in(i, j, k)) continue;
        double g = in(i - 1, j, k) + in(i + 1, j, k) + in(i, j - 1, k) + in(i, j + 1, k) + in(i, j, k - 1) +
                   in(i, j, k + 1);
        if (i == 0) g += 2.0;
        if (i == n - 1) g += 2.0;
        const int64_t idx = (i + 1) * plane2 + (j + 1) * w2 + (k + 1);
        cells[(i + j + k) % 2].push_back({idx, 1.0 / g, i == 0 ? 2.0 / g : 0.0});
        c[idx] = ip ? ip[(i * h + j) * w + k] : 1.0 - (static_cast<double>(i) + 0.5) / static_cast<double>(n);
        if (i == 0) inlet.push_back(idx);
        if (i == n - 1) outlet.push_back(idx);
      }
  double* cp = c.data();
  Solve s;
  double previous = std::numeric_limits<double>::quiet_NaN();
  const int64_t every = std::max<int64_t>(1, o.check_every());
  for (int64_t it = 1; it <= o.max_iterations(); ++it) {
    for (int colour = 0; colour < 2; ++colour) {
      for (const Cell& e : cells[colour]) {
        const int64_t x = e.idx;
        const double nb = cp[x - 1] + cp[x + 1] + cp[x - w2] + cp[x + w2] + cp[x - plane2] + cp[x + plane2];
        cp[x] += omega * (nb * e.inv_g + e.src - cp[x]);
      }
    }
    s.iterations = it;
    if (it % every == 0 || it == o.max_iterations()) {
      double f_in = 0.0, f_out = 0.0;
      for (int64_t x : inlet) f_in += 2.0 * (1.0 - cp[x]);
      for (int64_t x : outlet) f_out += 2.0 * cp[x];
      if (check_flux(s, f_in, f_out, previous, tolerance)) {
        s.converged = true;
        break;
      }
    }
  }
  auto out = torch::zeros({n, h, w}, torch::TensorOptions().dtype(torch::kDouble));
  double* op = out.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < h; ++j)
      for (int64_t k = 0; k < w; ++k) op[(i * h + j) * w + k] = cp[(i + 1) * plane2 + (j + 1) * w2 + (k + 1)];
  s.c = out.to(m_in.dtype());
  return s;
}

/// Red-black SOR on the cluster `m` ([N, H, W] float 0/1) from `init` (or a linear
/// profile) as tensor operations on m's device: c = 1 half a voxel before layer 0,
/// c = 0 half a voxel after layer N-1.
Solve sor_tensor(const torch::Tensor& m, torch::Tensor init, const TauOptions& o, double tolerance) {
  const int64_t n = m.size(0), h = m.size(1), w = m.size(2);
  const auto opts = m.options();
  // Conductance sum of each voxel: in-cluster neighbours + 2 at the Dirichlet faces.
  auto mp = torch::constant_pad_nd(m, {1, 1, 1, 1, 1, 1});
  auto g = mp.narrow(0, 0, n).narrow(1, 1, h).narrow(2, 1, w) + mp.narrow(0, 2, n).narrow(1, 1, h).narrow(2, 1, w) +
           mp.narrow(0, 1, n).narrow(1, 0, h).narrow(2, 1, w) + mp.narrow(0, 1, n).narrow(1, 2, h).narrow(2, 1, w) +
           mp.narrow(0, 1, n).narrow(1, 1, h).narrow(2, 0, w) + mp.narrow(0, 1, n).narrow(1, 1, h).narrow(2, 2, w);
  g.select(0, 0).add_(2.0);
  g.select(0, n - 1).add_(2.0);
  const auto inv_g = torch::where(m > 0, 1.0 / g, torch::zeros_like(g));
  mp = torch::Tensor();
  const double omega = relaxation(o, n, h, w);
  // Colour masks scaled by omega: c <- (1 - w) c + w inv_g (sum of neighbours + source).
  const auto ii = torch::arange(n, opts).view({n, 1, 1});
  const auto jj = torch::arange(h, opts).view({1, h, 1});
  const auto kk = torch::arange(w, opts).view({1, 1, w});
  const auto parity = torch::remainder(ii + jj + kk, 2.0);
  torch::Tensor keep[2], gain[2], source[2];
  for (int colour = 0; colour < 2; ++colour) {
    const auto sel = m * (parity == colour).to(opts.dtype());
    keep[colour] = 1.0 - omega * sel;
    gain[colour] = omega * sel * inv_g;
    source[colour] = (2.0 * gain[colour].select(0, 0)).contiguous();  // inlet c = 1, conductance 2
  }
  auto cp = torch::zeros({n + 2, h + 2, w + 2}, opts);
  auto c = cp.narrow(0, 1, n).narrow(1, 1, h).narrow(2, 1, w);
  if (init.defined()) {
    c.copy_(init * m);
  } else {
    c.copy_((1.0 - (ii + 0.5) / static_cast<double>(n)) * m);
  }
  const auto v0 = cp.narrow(0, 0, n).narrow(1, 1, h).narrow(2, 1, w);
  const auto v1 = cp.narrow(0, 2, n).narrow(1, 1, h).narrow(2, 1, w);
  const auto v2 = cp.narrow(0, 1, n).narrow(1, 0, h).narrow(2, 1, w);
  const auto v3 = cp.narrow(0, 1, n).narrow(1, 2, h).narrow(2, 1, w);
  const auto v4 = cp.narrow(0, 1, n).narrow(1, 1, h).narrow(2, 0, w);
  const auto v5 = cp.narrow(0, 1, n).narrow(1, 1, h).narrow(2, 2, w);
  auto nsum = torch::empty({n, h, w}, opts);
  const auto m_in = m.select(0, 0).to(torch::kDouble).sum().item<double>();
  auto fluxes = [&](double& f_in, double& f_out) {
    f_in = 2.0 * (m_in - c.select(0, 0).to(torch::kDouble).sum().item<double>());
    f_out = 2.0 * c.select(0, n - 1).to(torch::kDouble).sum().item<double>();
  };
  Solve s;
  double previous = std::numeric_limits<double>::quiet_NaN();
  const int64_t every = std::max<int64_t>(1, o.check_every());
  for (int64_t it = 1; it <= o.max_iterations(); ++it) {
    for (int colour = 0; colour < 2; ++colour) {
      torch::add_out(nsum, v0, v1);
      nsum.add_(v2).add_(v3).add_(v4).add_(v5);
      c.mul_(keep[colour]).addcmul_(gain[colour], nsum);
      c.select(0, 0).add_(source[colour]);
    }
    s.iterations = it;
    if (it % every == 0 || it == o.max_iterations()) {
      double f_in = 0.0, f_out = 0.0;
      fluxes(f_in, f_out);
      if (check_flux(s, f_in, f_out, previous, tolerance)) {
        s.converged = true;
        break;
      }
    }
  }
  s.c = c.clone();
  return s;
}

/// Solves on a 2x coarser grid first (recursively) and returns the fine solve.
Solve solve_multilevel(const torch::Tensor& m, const TauOptions& o, int depth) {
  torch::Tensor init;
  const int64_t n = m.size(0), h = m.size(1), w = m.size(2);
  // Sides of 8 voxels or more are halved; the recursion stops below 32 voxels.
  const int64_t longest = std::max({n, h, w});
  if (o.multilevel() && longest >= 32 && n >= 8 && depth < 8) {
    const std::vector<int64_t> kernel{n >= 8 ? 2 : 1, h >= 8 ? 2 : 1, w >= 8 ? 2 : 1};
    const auto coarse = torch::avg_pool3d(m.unsqueeze(0).unsqueeze(0), kernel, kernel, {0, 0, 0},
                                          /*ceil_mode=*/true)
                            .squeeze(0)
                            .squeeze(0) >= 0.5;
    const auto cluster = cluster_first(coarse);
    if (cluster.any().item<bool>()) {
      auto coarse_opts = o;
      coarse_opts.max_iterations(std::max<int64_t>(200, o.max_iterations() / 4));
      const auto cs = solve_multilevel(cluster.to(m.dtype()), coarse_opts, depth + 1);
      auto up = cs.c;
      for (int64_t d = 0; d < 3; ++d)
        if (kernel[d] == 2) up = up.repeat_interleave(2, d).narrow(d, 0, m.size(d));
      auto upm = cluster.to(m.dtype());
      for (int64_t d = 0; d < 3; ++d)
        if (kernel[d] == 2) upm = upm.repeat_interleave(2, d).narrow(d, 0, m.size(d));
      const auto ii = torch::arange(n, m.options()).view({n, 1, 1});
      const auto linear = (1.0 - (ii + 0.5) / static_cast<double>(n)).expand_as(m);
      init = torch::where(upm > 0, up, linear);
    }
  }
  // The coarse levels only give a starting point: a looser tolerance suffices there.
  const double tolerance = depth == 0 ? o.tolerance() : std::max(o.tolerance() * 10.0, 1e-3);
  if (m.device().is_cpu() && !o.tensor_ops()) return sor_cpu(m, init, o, tolerance);
  return sor_tensor(m, init, o, tolerance);
}

}  // namespace

torch::Tensor percolating_cluster(const torch::Tensor& mask, int64_t axis) {
  const auto m = detail::as_mask(mask, "percolating_cluster");
  detail::check_axis(m, axis, "percolating_cluster");
  auto cluster = cluster_first(transport_first(m, axis));
  if (m.dim() == 2) cluster = cluster.squeeze(-1);
  return cluster.movedim(0, axis).contiguous();
}

TauResult tortuosity(const torch::Tensor& mask, int64_t axis, const TauOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const auto m = detail::as_mask(mask, "tortuosity");
  detail::check_axis(m, axis, "tortuosity");
  EMGAN_CHECK(ConfigError, options.tolerance() > 0.0, "tortuosity: tolerance ", options.tolerance(),
              " must be > 0");
  EMGAN_CHECK(ConfigError, options.max_iterations() >= 1, "tortuosity: max_iterations ",
              options.max_iterations(), " must be >= 1");
  TauResult r;
  r.axis = axis;
  const double fraction = m.to(torch::kDouble).mean().item<double>();
  const auto mt = transport_first(m, axis);
  const auto cluster = cluster_first(mt);
  r.percolating_fraction = cluster.to(torch::kDouble).mean().item<double>();
  r.percolating = r.percolating_fraction > 0.0;
  if (!r.percolating) {
    r.tau = std::numeric_limits<double>::infinity();
    r.converged = true;
  } else {
    const auto s = solve_multilevel(cluster.to(torch::kDouble), options, 0);
    const int64_t n = mt.size(0);
    const double area = static_cast<double>(mt.size(1) * mt.size(2));
    r.d_rel = s.flux * static_cast<double>(n) / area;
    r.tau = r.d_rel > 0 ? fraction / r.d_rel : std::numeric_limits<double>::infinity();
    r.iterations = s.iterations;
    r.converged = s.converged;
    r.imbalance = s.imbalance;
    if (!s.converged) {
      std::ostringstream os;
      os << "warning: tortuosity along axis " << axis << " did not converge in " << s.iterations
         << " iterations (flux imbalance " << s.imbalance << ", tolerance " << options.tolerance()
         << "); tau = " << r.tau << " is approximate. Raise max_iterations.";
      log_info(os.str());
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace emgan::micro
