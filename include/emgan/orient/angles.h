#pragma once
/// \file angles.h
/// Symmetry-aware in-plane angles. An n-fold symmetric shape at angle theta looks the
/// same at theta + 360/n, so its orientation lives on a circle of period 360/n
/// degrees. It is represented by the unit vector (cos n theta, sin n theta) (the
/// "symmetry phase" psi = n theta), which is continuous across the wrap; losses and
/// errors are taken modulo 360/n. Angles are degrees, counter-clockwise in image
/// coordinates (x to the right, y down: counter-clockwise as seen on screen), 0 = a
/// vertex pointing along +x.
#include <torch/types.h>

#include <cstdint>

namespace emgan::orient {

/// The period of an n-fold shape's angle, 360/n degrees, for `order` (any shape,
/// integer or float tensor, values >= 1); float32 of the same shape.
torch::Tensor symmetry_period_deg(const torch::Tensor& order);

/// (cos n theta, sin n theta): `theta_deg` `[N]` degrees, `order` `[N]` (n >= 1),
/// returns `[N, 2]` float32 on their device.
torch::Tensor encode_angle(const torch::Tensor& theta_deg, const torch::Tensor& order);

/// Inverse of encode_angle: `vec` `[N, 2]` (any length > 0, not normalised), `order`
/// `[N]`; returns theta `[N]` in [0, 360/n) degrees. Differentiable except at the
/// origin.
torch::Tensor decode_angle(const torch::Tensor& vec, const torch::Tensor& order);

/// Circular mean of each row of `angles_deg` `[N, V]` with period 360/n (`order`
/// `[N]`): the angle of the mean phase (cos n theta, sin n theta) of the V values, in
/// [0, 360/n). Used to average one image's estimates over in-plane turns.
torch::Tensor circular_mean_deg(const torch::Tensor& angles_deg, const torch::Tensor& order);

/// `theta_deg` wrapped into [0, period) degrees (`period` broadcastable).
torch::Tensor wrap_angle(const torch::Tensor& theta_deg, const torch::Tensor& period);

/// Absolute angular difference modulo the symmetry: |pred - truth| taken on the circle
/// of period 360/n, `[N]` in [0, 180/n] degrees.
torch::Tensor symmetric_error_deg(const torch::Tensor& pred_deg, const torch::Tensor& truth_deg,
                                  const torch::Tensor& order);

/// The periodic loss: mean over N of 1 - cos(angle between `pred` and `target`),
/// both `[N, 2]` vectors (pred is normalised inside; target is a unit vector, e.g.
/// from encode_angle). 0 for equal phases, so 0 for angles equal modulo 360/n; at
/// most 2. Differentiable in `pred`.
torch::Tensor periodic_loss(const torch::Tensor& pred, const torch::Tensor& target);

/// Rotates the `[N, 2]` phase vectors `vec` by `delta_rad` `[N]` radians (complex
/// multiplication by e^{i delta}).
torch::Tensor rotate_phase(const torch::Tensor& vec, const torch::Tensor& delta_rad);

/// The stereo (offset) consistency loss of the siamese method: mean over N of
/// |u_b - R(n offset) u_a|^2 / 2, where u = phase / |phase| are the unit phase vectors
/// of images a and b `[N, 2]` (not normalised on input), n = `order` `[N]` and
/// `offset_deg` `[N]` the known rotation of b relative to a, degrees. Equals
/// 1 - cos(phase error): zero when theta_b = theta_a + offset modulo 360/n, at most 2,
/// no wrap (the comparison is between vectors on the circle), no collapse of the
/// scale (the vectors are normalised). Differentiable in both phases.
torch::Tensor offset_consistency_loss(const torch::Tensor& phase_a, const torch::Tensor& phase_b,
                                      const torch::Tensor& order, const torch::Tensor& offset_deg);

/// The siamese method's anti-collapse term: sum over symmetry orders k of
/// (N_k / N) |mean of the unit phases of the images of order k|^2, with `phase`
/// `[N, 2]` (not normalised), `order` `[N]` in min_order..max_order. About
/// (number of orders present) / N for uniformly spread phases; 1 when every shape has
/// one constant phase. Taken per order: a batch-wide mean would be cancelled by two
/// shapes collapsed to opposite phases. Differentiable in `phase`.
torch::Tensor phase_spread_penalty(const torch::Tensor& phase, const torch::Tensor& order, int64_t min_order,
                                   int64_t max_order);

/// The naive baseline: mean squared error of plain angles, `pred_deg` and
/// `truth_deg` `[N]` in degrees, each divided by its period (so values in units of
/// periods). It does not know the wrap: 0.01 and 0.99 periods are far apart for it.
torch::Tensor angle_mse_loss(const torch::Tensor& pred_deg, const torch::Tensor& truth_deg,
                             const torch::Tensor& order);

// ----------------------------------------------------------------------------- folded angles
// A projection that cannot tell theta from -theta (a polygon's 1D profile; a
// polyhedron tilted about a symmetry axis, seen along the beam) only fixes the
// *folded* angle: theta modulo 360/n, folded to [0, 180/n] (theta ~ -theta). Its
// phase is the upper half of the circle: (cos n theta, |sin n theta|).

/// `theta_deg` `[N]` modulo 360/n folded to [0, 180/n] degrees (`order` `[N]`).
torch::Tensor fold_angle_deg(const torch::Tensor& theta_deg, const torch::Tensor& order);

/// The distance in the folded label space: |fold(pred) - fold(truth)|, `[N]` degrees
/// in [0, 180/n]; 0 for angles equal modulo 360/n or mirrored (theta, -theta).
torch::Tensor folded_error_deg(const torch::Tensor& pred_deg, const torch::Tensor& truth_deg,
                               const torch::Tensor& order);

/// `vec` `[N, 2]` (any length > 0) -> the unit vector folded onto the upper half
/// circle, (x, |y|) / |vec|: the phase of the folded angle. Differentiable except on
/// the x axis (|y| has a kink there) and at the origin.
torch::Tensor fold_phase(const torch::Tensor& vec);

/// The siamese consistency loss for folded angles: each image's phase is folded
/// (fold_phase); image b (rotated by the known `offset_deg` from a) must match the
/// folded phase of a rotated by n x offset, for one of the two signs a's unfolded
/// angle may have: min over s = +-1 of |f(u_b) - f(R(n offset) u_a^s)|^2 / 2, where
/// u^s = (x, s y); averaged with the same from b to a (offset negated) and over N.
/// A branch whose rotation carries the phase across a mirror point (phase 0 or 180
/// degrees: the pair straddles theta = 0 or 180/n) gets `cross_penalty` (>= 0) added:
/// a prior that such pairs are the minority. Those branches relate the two phases by
/// psi_a + psi_b = const, which a constant output (near n offset / 2 or 180 - n
/// offset / 2) satisfies on average -- the collapse the penalty keeps the network from.
/// Zero for a network that gives the true folded angle (with cross_penalty 0, or for
/// pairs that do not straddle a mirror point); at most 2 + cross_penalty.
/// With `relative_penalty`, a pair's penalty is cross_penalty x (1 - cos(n offset)), the
/// cost a constant output pays on the branch that does not cross, so that (for
/// cross_penalty < 1) crossing at the true angles stays cheaper than a dead zone at the
/// mirror point for every offset; a constant penalty above 1 - cos(n offset) (small
/// orders, small offsets) made the tetrahedron's network stop short of the mirror points.
torch::Tensor folded_consistency_loss(const torch::Tensor& phase_a, const torch::Tensor& phase_b,
                                      const torch::Tensor& order, const torch::Tensor& offset_deg,
                                      double cross_penalty = 0.0, bool relative_penalty = false);

/// The complex square of the unit phases `[N, 2]`: (cos 2 psi, sin 2 psi). Folded
/// phases (psi in [0, 180]) of uniformly spread angles have a non-zero mean; their
/// squares are spread over the whole circle, so phase_spread_penalty applies to them.
torch::Tensor square_phase(const torch::Tensor& vec);

}  // namespace emgan::orient
