#pragma once
/// \file orient.h
/// The orientation workflow (`emgan orient data|train|eval|predict`): in-plane
/// orientation of regular-polygon nanoparticles learned from stereo pairs (two images
/// of one particle a known rotation apart) without angle labels.
///
/// Data kinds (`DataSettings::kind`): "polygon" (in-plane rotation of 2D regular
/// polygons, images `[N, 1, S, S]`), "projection1d" (the same polygon images summed
/// along y: intensity profiles `[N, 1, S]`; a profile fixes only the folded angle),
/// "polyhedron" (HAADF-like projections `[N, 1, S, S]` of 3D polyhedra tilted about
/// the image y axis, see polyhedra.h; the folded angle too). For the folded kinds
/// every angle the workflow reports or scores is theta modulo 360/n folded to
/// [0, 180/n] (fold_angle_deg, angles.h); n = `order` is the number of sides or the
/// polyhedron's symmetry order about the tilt axis. "polyhedron3d": full 3D
/// orientation, each particle at a uniformly random rotation R in SO(3), image b after a
/// known tilt R_off about a known in-plane axis (R_b = R_off R_a); `order` is the size
/// of the shape's rotation group (12 T, 24 O, 60 I, 10 D5), predictions are rotations
/// (6D head) scored modulo the group and the projection twin (polyhedra.h).
///
/// A data folder holds
///   pairs.pt      tensors a, b `[N, 1, S, S]` or `[N, 1, S]` (raw noisy samples), offset_deg `[N]`
///                 (the known rotation of b relative to a), order `[N]` (number of
///                 sides, given), dose `[N]` (the acquisition's dose, for per-noise
///                 evaluation), and (kinds other than polygon) a "meta" entry
///                 {"kind": ...} -- everything training may read; polyhedron3d also
///                 offset_axis `[N, 3]` (unit, in the x-y image plane) and offset_rot
///                 `[N, 3, 3]` (R_off), with offset_deg the tilt angle about that axis;
///   reference.pt  ref `[K, 1, S, S]` (profiles `[K, 1, S]`), ref_order `[K]`: one clean sample per shape at
///                 the chosen zero orientation (fixes the siamese method's zero);
///   labels.pt     theta_a_deg, theta_b_deg, radius_px, cx_px, cy_px `[N]` (polyhedron3d:
///                 rot_a, rot_b `[N, 3, 3]` instead of the angles): the truth,
///                 read only by `eval` and by `train --method supervised`;
///   data.json     the data settings; preview.png some pairs.
/// A run folder holds config.json, metrics.csv, checkpoint.pt (resumable), model.pt
/// (weights + the zero of each symmetry order), learning_curves.png and index.html.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/runtime.h"

namespace emgan::orient {

/// Settings of `emgan orient data`.
struct DataSettings {
  std::string out = "orient_data";  ///< output folder
  std::string kind = "polygon";     ///< polygon | projection1d | polyhedron | polyhedron3d (see the file comment)
  std::vector<std::string> polyhedra = {"cube"};  ///< polyhedron(3d) kinds: shapes drawn uniformly (polyhedra.h names; distinct tilt orders, 3d: distinct rotation groups)
  int64_t count = 2000;             ///< number of stereo pairs
  int64_t size = 64;                ///< image side, pixels
  int64_t min_sides = 3;            ///< smallest polygon order (>= 3; polygon and projection1d kinds)
  int64_t max_sides = 8;            ///< largest polygon order
  double radius_min = 0.18;         ///< smallest circumradius, fraction of the image side (polygon or polyhedron)
  double radius_max = 0.32;         ///< largest circumradius, fraction of the image side
  double position_jitter = 0.06;    ///< centre offset from the image centre, up to this fraction of the side
  double stereo_shift_px = 1.5;     ///< extra random shift of image b (stereo drift), up to this many pixels
  double offset_min_deg = 5.0;      ///< smallest known rotation of b relative to a, degrees (polyhedron3d: tilt about a random in-plane axis, 0..90)
  double offset_max_deg = 20.0;     ///< largest known rotation, degrees (min = max: one fixed offset)
  std::vector<double> doses = {200.0, 50.0};  ///< electrons per pixel at intensity 1, one drawn per pair (<= 0: no shot noise)
  double gaussian_sigma = 0.05;     ///< Gaussian read noise, units of the particle intensity
  int64_t supersample = 4;          ///< anti-aliasing sub-grid per pixel side
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DataSettings, out, kind, polyhedra, count, size, min_sides, max_sides, radius_min,
                                                radius_max, position_jitter, stereo_shift_px, offset_min_deg,
                                                offset_max_deg, doses, gaussian_sigma, supersample, runtime)

/// The size term of label-free training (TrainSettings::size_weight): image a resized by
/// a factor in [1/(1+x), 1+x] and shifted up to this many pixels must keep its angle.
constexpr double kSizeTermScale = 0.25;
constexpr double kSizeTermShiftPx = 1.5;

/// Settings of `emgan orient train`.
struct TrainSettings {
  std::string data = "orient_data";  ///< data folder written by `orient data`
  std::string out = "runs/orient";   ///< run folder
  std::string method = "siamese";    ///< siamese | reconstruct | supervised
  std::string angle_loss = "periodic";  ///< periodic | mse (mse: plain angle regression, supervised only)
  /// Passes over the pairs; -1 = automatic: 120 for reconstruct with the renderer (3000
  /// 64-px polygon pairs: 38 / 79 / 93 / 96 % within 2 deg after 6 / 24 / 60 / 120
  /// epochs), 60 otherwise (siamese: 60 measured best; reconstruct with the learned
  /// generator: 100.0 % at 60 on three seeds, docs/ORIENT.md).
  int64_t epochs = -1;
  int64_t batch_size = 64;           ///< pairs per step
  double lr = 2e-3;                  ///< Adam learning rate (cosine-decayed to 0 over the run)
  int64_t width = 16;                ///< channels of the first convolution (doubling twice); 32 reached 97.7 % within 2 deg on polygons with one seed, 61 % with another (docs/ORIENT.md)
  double denoise_sigma = 1.0;        ///< Gaussian denoise of the preprocessing, pixels
  /// reconstruct: the image generator. "learned": a generator network (OrientDecoder)
  /// trained with the encoder, told only the angle, the order and a rotation-free shape
  /// code; its zero is arbitrary and fixed from the reference as in siamese. "renderer":
  /// the differentiable polygon renderer of the data with a learned size (polygons only;
  /// the angle convention of the data).
  std::string generator = "learned";
  int64_t generator_width = 8;       ///< reconstruct, learned: channels of the generator at full resolution
  int64_t render_supersample = 2;    ///< reconstruct, renderer: anti-aliasing of the differentiable renderer
  double spread_weight = 0.3;        ///< siamese: weight of the per-shape anti-collapse term (phases spread uniformly; polyhedron3d: rotation_spread_penalty)
  std::string stereo_loss = "nearest";  ///< siamese, polyhedron3d: nearest (stereo_rotation_loss) | invariant (stereo_invariant_loss), polyhedra.h
  /// Weight of the in-plane term (image a digitally rotated by a random angle about the
  /// beam axis must give that rotation: polygon angle theta - angle, polyhedron3d Rz(angle) R);
  /// siamese (polygon, polyhedron3d) and reconstruct (on the encoder's angle, beside the
  /// rendering loss); 0 = off.
  double inplane_weight = 1.0;
  double spread_tau = 0.02;          ///< siamese, polyhedron3d: length scale of rotation_spread_penalty, sin^2(angle / 2) (0.02: about 16 degrees)
  int64_t zero_views = 144;          ///< siamese and reconstruct-learned, polygon: the zero is fixed from the reference image turned digitally to this many angles 0, 360/v, ... (circular mean; 1 = the reference alone)
  bool zero_noise = true;            ///< siamese and reconstruct-learned, polygon: the turned reference views get the training images' noise (shot noise at doses drawn from pairs.pt, Gaussian read noise of data.json) before preprocessing
  double zero_scale = 0.25;          ///< siamese and reconstruct-learned, polygon: the zero views are also scaled by a random factor in [1/(1+x), 1+x] and shifted up to 1.5 px, as particles vary (0 = all at the reference's size and position)
  double norm_weight = 0.1;          ///< siamese: weight of the (|phase| - 1)^2 term (0: the phase may pass through 0)
  /// siamese, folded kinds: cost of the branch where a pair straddles a mirror point
  /// (folded_consistency_loss, angles.h), times 1 - cos(n offset) with cross_mode
  /// "offset" (the default): 0.5 = half of what a constant output pays. Measured in
  /// docs/ORIENT.md: the constant penalty (0.3 / 0.6) left the tetrahedron at 8-89 %
  /// within 5 deg, the relative 0.5 gives 96-97 % (and profiles 99.2-99.3 %).
  double cross_penalty = 0.5;
  /// siamese, folded kinds: "offset" (cross_penalty x (1 - cos(n offset)) per straddling
  /// pair) or "constant" (cross_penalty per straddling pair, the earlier loss).
  std::string cross_mode = "offset";
  /// siamese, folded kinds: crossing cost at the start, lowered linearly to cross_penalty
  /// over the first half of the run; -1 = no schedule. A high start keeps the network from
  /// the constant-output collapse early on (32 px squares' profiles: 0.5 throughout failed
  /// one seed of six, 63 % within 5 deg; 1.0 -> 0.5 none, 90-95 %), the low end lets pairs
  /// cross the mirror points at their true angles (docs/ORIENT.md, "Tenth session").
  double cross_penalty_start = 1.0;
  double augment_scale = 0.0;        ///< siamese: random size change of each image, factor in [1/(1+x), 1+x] (angle kept)
  double augment_shift_px = 0.0;     ///< siamese: random shift of each image, up to this many pixels (angle kept)
  double augment_noise = 0.0;        ///< siamese: added Gaussian noise, units of the image standard deviation
  /// siamese (images and profiles) and reconstruct with the learned generator: weight of the size term, image a against a copy of
  /// itself resized and shifted (kSizeTermScale, kSizeTermShiftPx), which must keep its
  /// angle; the stereo pair itself is not augmented. A label-free model may otherwise add
  /// any function of the particle's size to its angle: both images of a pair have one
  /// size. -1 = automatic: 1 for the single-angle kinds (polygon, projection1d,
  /// polyhedron; measured in docs/ORIENT.md), 0 for polyhedron3d (no size term); 0 = off.
  double size_weight = -1.0;
  /// Label-free restarts: train this many candidates (seeds seed, seed + 1, ...) for the
  /// first restart_fraction of the run, keep the one with the lowest training loss and
  /// finish it (RUN/candidates/, candidates.csv); 1 = a single run; -1 = automatic: 3 for
  /// siamese on polyhedron3d data, 1 otherwise. The label-free 3D runs learn or not by
  /// seed, and their training loss tells which (docs/ORIENT.md).
  int64_t restarts = -1;
  double restart_fraction = 0.4;     ///< share of the epochs the restart candidates are trained for
  bool resume = true;                ///< continue from RUN/checkpoint.pt when present
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainSettings, data, out, method, angle_loss, epochs, batch_size, lr,
                                                width, denoise_sigma, generator, generator_width, render_supersample, spread_weight, spread_tau, stereo_loss, inplane_weight, zero_views, zero_noise, zero_scale, norm_weight, cross_penalty, cross_mode, cross_penalty_start,
                                                augment_scale, augment_shift_px, augment_noise, size_weight, restarts, restart_fraction, resume, runtime)

/// Settings of `emgan orient eval`.
struct EvalSettings {
  std::string model = "runs/orient";  ///< run folder (with model.pt)
  std::string data = "orient_test";   ///< data folder with labels.pt (not the training data)
  std::string out = "";               ///< output folder; "" = RUN/eval
  int64_t tta_views = 0;              ///< polygon models: each angle is the circular mean over the image turned to v angles (0 = 8 for polygon models, 1 otherwise)
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EvalSettings, model, data, out, tta_views, runtime)

/// Settings of `emgan orient predict`.
struct PredictSettings {
  std::string model = "runs/orient";  ///< run folder (with model.pt)
  std::string input = "";             ///< an image file or a folder of images (any emgan format), square, model size
  int64_t order = 0;                  ///< symmetry order (number of sides) of the particles; 0 = required
  std::string output = "";            ///< CSV written; "" = print only
  int64_t tta_views = 0;              ///< as EvalSettings::tta_views
  RuntimeSettings runtime;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PredictSettings, model, input, order, output, tta_views, runtime)

/// Options of the orientation network.
struct OrientNetOptions {
  OrientNetOptions(int64_t size, int64_t min_order, int64_t max_order)
      : size_(size), min_order_(min_order), max_order_(max_order) {}
  TORCH_ARG(int64_t, size);       ///< input side, pixels (divisible by 16)
  TORCH_ARG(int64_t, min_order);  ///< smallest symmetry order handled
  TORCH_ARG(int64_t, max_order);  ///< largest symmetry order handled
  TORCH_ARG(int64_t, width) = 16; ///< channels of the first convolution
  TORCH_ARG(int64_t, dims) = 2;   ///< 2: images `[N, 1, S, S]`, Conv2d; 1: profiles `[N, 1, S]`, Conv1d
  TORCH_ARG(int64_t, outputs) = 3; ///< values per order head: 3 (phase x, phase y, size code) or 6 (a 6D rotation, polyhedron3d)
};

/// A CNN mapping a preprocessed `[N, 1, S, S]` image (dims 2; Conv2d) or `[N, 1, S]`
/// profile (dims 1; the same layers as Conv1d) to, for each symmetry order n, a
/// phase vector (cos n theta, sin n theta) (not normalised) and one shape-code value
/// (the particle size, used by the reconstruct method's renderer).
class OrientNetImpl : public torch::nn::Module {
 public:
  explicit OrientNetImpl(OrientNetOptions options);
  /// `[N, orders, outputs]`: per order (phase x, phase y, size code), or a 6D rotation.
  torch::Tensor forward(const torch::Tensor& x);
  /// `[N, outputs]`: the head of each image's own order `order` `[N]`.
  torch::Tensor forward_order(const torch::Tensor& x, const torch::Tensor& order);
  OrientNetOptions options;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential head_{nullptr};
};
TORCH_MODULE(OrientNet);

/// Options of the reconstruct method's learned image generator (OrientDecoder).
struct OrientDecoderOptions {
  OrientDecoderOptions(int64_t size, int64_t min_order, int64_t max_order)
      : size_(size), min_order_(min_order), max_order_(max_order) {}
  TORCH_ARG(int64_t, size);        ///< output side, pixels (divisible by 16)
  TORCH_ARG(int64_t, min_order);   ///< smallest symmetry order handled
  TORCH_ARG(int64_t, max_order);   ///< largest symmetry order handled
  TORCH_ARG(int64_t, width) = 8;   ///< channels at full resolution (2x at 1/2 resolution, 4x at 1/4, 1/8 and 1/16)
  TORCH_ARG(int64_t, code_dim) = 8;  ///< length of the shape code
};

/// The reconstruct method's image generator, a learned network (no renderer). From a
/// particle's symmetry order `[N]` (one-hot) and a shape code it generates a template,
/// the preprocessed image `[N, 1, S, S]` of that particle at the generator's own zero:
/// two fully connected layers to a 1/16-size feature map, four nearest-neighbour
/// upsamplings each followed by a 3x3 convolution (no checkerboard of transposed
/// convolutions), a last 3x3 convolution to one channel. The template is then turned to
/// the angle theta of a phase (cos n theta, sin n theta) `[N, 2]` (rotate_images,
/// differentiable in the angle): an in-plane turn of a projection is exact for any
/// particle, so the network learns only what the particles look like, in one
/// orientation. The shape code comes from the source image through its azimuthal mean
/// (radial_profile, render.h) and a small MLP: size, contrast and shape, but by
/// construction not the angle, so the generator can only draw image b at the angle it
/// is given. Its zero is arbitrary (fixed afterwards from the reference, as in siamese).
class OrientDecoderImpl : public torch::nn::Module {
 public:
  explicit OrientDecoderImpl(OrientDecoderOptions options);
  /// Shape code `[N, code_dim]` of preprocessed source images `[N, 1, S, S]`.
  torch::Tensor shape_code(const torch::Tensor& source);
  /// Templates `[N, 1, S, S]` (the particles at the generator's zero) of orders `[N]` and
  /// shape codes `[N, code_dim]`.
  torch::Tensor templates(const torch::Tensor& order, const torch::Tensor& code);
  /// Generated images `[N, 1, S, S]`: templates(order, code) turned to the angles of the
  /// phases `[N, 2]` (any length > 0) for the orders `[N]`.
  torch::Tensor generate(const torch::Tensor& phase, const torch::Tensor& order, const torch::Tensor& code);
  /// generate(phase, order, shape_code(source)).
  torch::Tensor forward(const torch::Tensor& phase, const torch::Tensor& order, const torch::Tensor& source);
  OrientDecoderOptions options;

 private:
  torch::nn::Sequential code_{nullptr};
  torch::nn::Sequential fc_{nullptr};
  torch::nn::Sequential up_{nullptr};
};
TORCH_MODULE(OrientDecoder);

/// What `run_train` measured.
struct TrainSummary {
  int64_t epochs = 0;        ///< epochs done in total
  double final_loss = 0.0;   ///< mean loss of the last epoch
  double seconds = 0.0;      ///< wall time of this call
};

/// What `run_eval` measured (angles modulo symmetry, degrees).
struct EvalSummary {
  int64_t count = 0;
  double within_2 = 0.0;     ///< fraction of images with error <= 2 degrees
  double within_5 = 0.0;     ///< fraction with error <= 5 degrees
  double mean_error = 0.0;
  double median_error = 0.0;
  double chance_within_5 = 0.0;  ///< the fraction a uniformly random guess gets within 5 degrees
  double within_2_best_zero = 0.0;  ///< diagnostic: within 2 degrees after subtracting the best zero per shape (circular mean error)
  double within_5_best_zero = 0.0;  ///< diagnostic: within 5 degrees with the best zero per shape
  bool rotation = false;     ///< polyhedron3d: errors are geodesic angles modulo the group and the twin (polyhedra.h)
  double within_10 = 0.0;    ///< polyhedron3d: fraction with error <= 10 degrees
  double within_15 = 0.0;    ///< polyhedron3d: fraction with error <= 15 degrees
  double p90_error = 0.0;    ///< polyhedron3d: 90th percentile of the error, degrees
  double chance_median_error = 0.0;  ///< polyhedron3d: median error of a uniformly random rotation (Monte Carlo)
  double pair_residual_median = 0.0;  ///< polyhedron3d diagnostic: median stereo residual of the test pairs, degrees (0 = self-consistent)
  double spread_median_error = 0.0;  ///< polyhedron3d diagnostic: median distance between predictions of different images (about 0 = collapsed)
  /// "orient eval: N=... within2=...% within5=...% mean=... median=..."
  std::string last_line() const;
};

/// Checks `s`; ConfigError naming the setting otherwise.
void validate(const DataSettings& s);
void validate(const TrainSettings& s);

/// Writes a data folder (see the file comment). Returns the folder.
fs::path run_data(const DataSettings& s);
/// Trains (resuming when asked and possible); writes the run folder. The label file
/// is read only for `--method supervised`.
TrainSummary run_train(const TrainSettings& s);
/// Evaluates a trained run on a labelled data folder; writes metrics.json, plots and
/// index.html into the output folder.
EvalSummary run_eval(const EvalSettings& s);
/// Predicted angles `[N]` (degrees in [0, 360/order)) of the images of `s.input`, in
/// file order, with their file names; writes the CSV when `s.output` is set. A
/// polyhedron3d model: ConfigError (use run_predict_rotations).
std::vector<std::pair<std::string, double>> run_predict(const PredictSettings& s);
/// polyhedron3d models: the predicted rotation `[3, 3]` of each image of `s.input` (file
/// order; `s.order` = the rotation group size, e.g. 24 for a cube), defined modulo the
/// group (right) and the projection twin; writes `file,order,r00,...,r22` (row-major)
/// when `s.output` is set. Other models: ConfigError.
std::vector<std::pair<std::string, torch::Tensor>> run_predict_rotations(const PredictSettings& s);

/// A trained model loaded for inference.
struct LoadedModel {
  OrientNet net{nullptr};
  torch::Tensor zero_deg;  ///< `[orders]` angle (degrees) the network gives the reference of each order
  double denoise_sigma = 1.0;
  std::string method;      ///< siamese | reconstruct | supervised
  std::string angle_loss;  ///< periodic | mse (how the head encodes the angle)
  std::string generator;   ///< reconstruct: learned | renderer (the image generator it was trained with); "" otherwise
  std::string kind = "polygon";  ///< data kind it was trained on
  bool folded = false;     ///< predictions are folded angles in [0, 180/n] (kinds projection1d, polyhedron)
  torch::Tensor zero_rot;  ///< polyhedron3d: `[orders, 3, 3]` frame fix Z, predictions are net(x) Z^T
  int64_t tta_views = 1;   ///< polygon models: predict_angles averages over the image turned to this many angles
};
/// Sets `model.tta_views` from a setting (0 = 8 for polygon models, 1 otherwise);
/// ConfigError for a negative value or more than one view on a non-polygon model.
void set_tta_views(LoadedModel& model, int64_t views);
/// Loads RUN/model.pt on `device` (IoError naming the file otherwise).
LoadedModel load_model(const fs::path& run_dir, const torch::Device& device);
/// Angles `[N]` in [0, 360/n) degrees (folded models: [0, 180/n]) of raw samples
/// `[N, 1, S, S]` (or `[N, 1, S]` for a dims-1 model) of orders `[N]`. Polygon models
/// with `tta_views` v > 1: the preprocessed image turned by phi_j = j 360 / v shows the
/// polygon at theta - phi_j; the angle is the circular mean (period 360/n) of the
/// network's angle of each turned image plus phi_j.
torch::Tensor predict_angles(LoadedModel& model, const torch::Tensor& raw_images, const torch::Tensor& order);
/// polyhedron3d models: rotations `[N, 3, 3]` of raw images `[N, 1, S, S]` of orders
/// (rotation group sizes) `[N]`, the frame fixed (net(x) Z^T); ConfigError otherwise.
torch::Tensor predict_rotations(LoadedModel& model, const torch::Tensor& raw_images, const torch::Tensor& order);

}  // namespace emgan::orient
