#include "emgan/orient/angles.h"

#include <torch/torch.h>

#include <cmath>

namespace emgan::orient {

namespace {
constexpr double kDegToRad = M_PI / 180.0;
}  // namespace

torch::Tensor symmetry_period_deg(const torch::Tensor& order) { return 360.0 / order.to(torch::kFloat32); }

torch::Tensor encode_angle(const torch::Tensor& theta_deg, const torch::Tensor& order) {
  const auto psi = theta_deg.to(torch::kFloat32) * order.to(theta_deg.device(), torch::kFloat32) * kDegToRad;
  return torch::stack({torch::cos(psi), torch::sin(psi)}, 1);
}

torch::Tensor wrap_angle(const torch::Tensor& theta_deg, const torch::Tensor& period) {
  return torch::remainder(theta_deg, period);
}

torch::Tensor decode_angle(const torch::Tensor& vec, const torch::Tensor& order) {
  const auto psi = torch::atan2(vec.select(1, 1), vec.select(1, 0)) / kDegToRad;  // (-180, 180]
  const auto n = order.to(vec.device(), torch::kFloat32);
  return wrap_angle(psi / n, 360.0 / n);
}

torch::Tensor circular_mean_deg(const torch::Tensor& angles_deg, const torch::Tensor& order) {
  const int64_t n = angles_deg.size(0), v = angles_deg.size(1);
  const auto ord = order.to(angles_deg.device());
  const auto phase = encode_angle(angles_deg.reshape({n * v}), ord.repeat_interleave(v)).view({n, v, 2}).mean(1);
  return decode_angle(phase, ord);
}

torch::Tensor symmetric_error_deg(const torch::Tensor& pred_deg, const torch::Tensor& truth_deg,
                                  const torch::Tensor& order) {
  const auto period = symmetry_period_deg(order.to(pred_deg.device()));
  const auto d = wrap_angle(pred_deg - truth_deg, period);
  return torch::minimum(d, period - d);
}

torch::Tensor periodic_loss(const torch::Tensor& pred, const torch::Tensor& target) {
  const auto unit = pred / (pred.norm(2, 1, true) + 1e-8);
  return (1.0 - (unit * target).sum(1)).mean();
}

torch::Tensor rotate_phase(const torch::Tensor& vec, const torch::Tensor& delta_rad) {
  const auto c = torch::cos(delta_rad), s = torch::sin(delta_rad);
  const auto x = vec.select(1, 0), y = vec.select(1, 1);
  return torch::stack({x * c - y * s, x * s + y * c}, 1);
}

torch::Tensor offset_consistency_loss(const torch::Tensor& phase_a, const torch::Tensor& phase_b,
                                      const torch::Tensor& order, const torch::Tensor& offset_deg) {
  const auto ua = phase_a / (phase_a.norm(2, 1, true) + 1e-8);
  const auto ub = phase_b / (phase_b.norm(2, 1, true) + 1e-8);
  const auto nd = offset_deg.to(phase_a.device(), torch::kFloat32) * order.to(phase_a.device(), torch::kFloat32) * kDegToRad;
  return 0.5 * (ub - rotate_phase(ua, nd)).pow(2).sum(1).mean();
}

torch::Tensor phase_spread_penalty(const torch::Tensor& phase, const torch::Tensor& order, int64_t min_order,
                                   int64_t max_order) {
  const auto u = phase / (phase.norm(2, 1, true) + 1e-8);
  const auto onehot = torch::one_hot(order.to(u.device(), torch::kLong) - min_order, max_order - min_order + 1).to(u.dtype());
  const auto sums = onehot.t().matmul(u);            // [K, 2]
  const auto counts = onehot.sum(0).clamp_min(1.0);  // [K]
  return (sums.pow(2).sum(1) / counts).sum() / static_cast<double>(u.size(0));
}

torch::Tensor angle_mse_loss(const torch::Tensor& pred_deg, const torch::Tensor& truth_deg,
                             const torch::Tensor& order) {
  const auto period = symmetry_period_deg(order.to(pred_deg.device()));
  return ((pred_deg - truth_deg) / period).pow(2).mean();
}

torch::Tensor fold_angle_deg(const torch::Tensor& theta_deg, const torch::Tensor& order) {
  const auto period = symmetry_period_deg(order.to(theta_deg.device()));
  const auto t = wrap_angle(theta_deg.to(torch::kFloat32), period);
  return torch::minimum(t, period - t);
}

torch::Tensor folded_error_deg(const torch::Tensor& pred_deg, const torch::Tensor& truth_deg,
                               const torch::Tensor& order) {
  return (fold_angle_deg(pred_deg, order) - fold_angle_deg(truth_deg, order)).abs();
}

torch::Tensor fold_phase(const torch::Tensor& vec) {
  const auto u = vec / (vec.norm(2, 1, true) + 1e-8);
  return torch::stack({u.select(1, 0), u.select(1, 1).abs()}, 1);
}

torch::Tensor folded_consistency_loss(const torch::Tensor& phase_a, const torch::Tensor& phase_b,
                                      const torch::Tensor& order, const torch::Tensor& offset_deg,
                                      double cross_penalty, bool relative_penalty) {
  const auto fa = fold_phase(phase_a), fb = fold_phase(phase_b);
  const auto nd = offset_deg.to(phase_a.device(), torch::kFloat32) * order.to(phase_a.device(), torch::kFloat32) * kDegToRad;
  const auto penalty = relative_penalty ? cross_penalty * (1.0 - torch::cos(nd)) : torch::full_like(nd, cross_penalty);
  const auto conj = torch::tensor({1.0f, -1.0f}, fa.options()).view({1, 2});
  // Each candidate: the source phase with sign s, rotated by n offset; it crosses a
  // mirror point (0 or 180 degrees of phase) when the rotation changes the sign of y.
  auto branch = [&](const torch::Tensor& v, const torch::Tensor& to, const torch::Tensor& d) {
    const auto c = rotate_phase(v, d);
    const auto crossed = (c.select(1, 1) * v.select(1, 1) < 0).to(c.scalar_type());
    return 0.5 * (to - fold_phase(c)).pow(2).sum(1) + penalty * crossed;
  };
  auto one_way = [&](const torch::Tensor& from, const torch::Tensor& to, const torch::Tensor& d) {
    return torch::minimum(branch(from, to, d), branch(from * conj, to, d));
  };
  return 0.5 * (one_way(fa, fb, nd) + one_way(fb, fa, -nd)).mean();
}

torch::Tensor square_phase(const torch::Tensor& vec) {
  const auto u = vec / (vec.norm(2, 1, true) + 1e-8);
  const auto x = u.select(1, 0), y = u.select(1, 1);
  return torch::stack({x * x - y * y, 2.0 * x * y}, 1);
}

}  // namespace emgan::orient
