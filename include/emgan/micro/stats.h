#pragma once
/// \file stats.h
/// Microstructure statistics of phase label maps, and their comparison.
///
/// Input everywhere is a label map (see phases.h): int64 `[H, W]` (2D) or
/// `[D, H, W]` (3D), values 0..P-1, on any device; a phase mask is a bool/float
/// tensor of the same shape. Axes are numbered as the tensor's: in 3D axis 0 = z
/// (D), 1 = y (H), 2 = x (W); in 2D axis 0 = y (H), 1 = x (W). Lengths are in
/// voxels (pixels in 2D) and densities per voxel volume; multiply by the voxel size
/// for physical units (surface area per voxel -> 1/length: divide by the size).
///
/// Definitions (all documented in docs/MICRO.md):
/// - volume fraction: voxels of the phase / all voxels.
/// - S2(r) along axis a: probability that two voxels r apart along a are both in the
///   phase, over all pairs inside the sample (non-periodic: zero-padded FFT, divided
///   by the number of pairs at that r), so S2(0) = fraction exactly.
/// - specific surface area: voxel faces between a voxel of the phase and a voxel of
///   another phase, divided by all voxels (per voxel, i.e. 1/voxel length). Faces on
///   the outer boundary of the sample do NOT count. A 10^3 cube inside 20^3 gives
///   600 / 8000 = 0.075.
/// - interface area of two phases a and b: voxel faces between a voxel of a and a
///   voxel of b, per voxel (outer boundary excluded); for 3 or more phases, each
///   phase's surface area is the sum of its interface areas with the others. It tells
///   which neighbours a phase's surface faces (e.g. particles wrapped in a film).
/// - triple-phase boundary (TPB) density, 3 phases: in 3D, voxel edges (shared by
///   4 voxels) whose 4 voxels hold all three phases, per voxel volume (edge length
///   per volume, 1/voxel length^2); in 2D, pixel corners whose 4 pixels hold all
///   three phases, per pixel area.
/// - chord lengths along axis a: lengths of the maximal runs of the phase along
///   lines parallel to a; runs touching the sample boundary are truncated and left
///   out unless StatsSettings::edge_chords.
/// - tortuosity (TauFactor method): steady-state diffusion through the percolating
///   cluster of the phase (6-connected, touching both faces normal to the axis),
///   concentration 1 at the inlet face and 0 at the outlet face (applied half a
///   voxel outside the first/last layer), no flux through the sides, unit
///   diffusivity in the phase and none elsewhere; finite volumes solved by red-black
///   SOR. D_rel = F L / A (F total flux, L length along the axis, A full
///   cross-section in voxels); tau = fraction / D_rel; tau = inf when the phase does
///   not percolate along the axis.
/// - isotropy: per phase, the largest RMS difference between the S2 curves of two
///   axes (over r = 0..max_r); 0 for a perfectly isotropic sample.
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"

namespace emgan::micro {

// ---------------------------------------------------------------- single statistics

/// Fraction of voxels of `labels` equal to `phase`, in [0, 1].
double volume_fraction(const torch::Tensor& labels, int64_t phase);

/// Two-point correlation S2(r), r = 0..max_r, of a mask (bool or 0/1 float, 2D/3D,
/// any device) along `axis`, non-periodic (zero-padded FFT, divided by the pairs
/// per r) or periodic (`periodic`: circular FFT, divided by all voxels).
/// max_r must be < the size along the axis. Returns max_r + 1 values in [0, 1].
std::vector<double> two_point_correlation(const torch::Tensor& mask, int64_t axis, int64_t max_r,
                                          bool periodic = false);

/// Voxel faces between `phase` and any other phase (outer boundary excluded) per
/// voxel: the specific surface area in 1/voxel length (perimeter per pixel in 2D).
double surface_area(const torch::Tensor& labels, int64_t phase);

/// Voxel faces between a voxel of phase `a` and a voxel of phase `b` (a != b; outer
/// boundary excluded) per voxel: the interface area of the pair in 1/voxel length.
/// ConfigError when a == b.
double interface_area(const torch::Tensor& labels, int64_t a, int64_t b);

/// Triple-phase boundary density of a 3-phase label map (see the file comment):
/// TPB edges per voxel (3D) or TPB corners per pixel (2D). ConfigError when the
/// labels do not have exactly 3 phases (max label != 2).
double tpb_density(const torch::Tensor& labels);

/// Chord lengths of one phase along one axis.
struct Chords {
  std::vector<int64_t> counts;  ///< counts[l] = number of chords of length l voxels (index 0 unused)
  int64_t number = 0;           ///< number of chords counted
  double mean = 0.0;            ///< mean chord length, voxels (0 when none)
};

/// The chords of a mask (bool/0-1, 2D/3D, any device) along `axis`; chords touching
/// the sample boundary along that axis count only when `edge_chords`.
Chords chord_lengths(const torch::Tensor& mask, int64_t axis, bool edge_chords = false);

/// How far apart two chord-length distributions are: the total variation distance
/// 0.5 * sum_l |p(l) - q(l)| between the fractions of chords of each length
/// (counts / number). 0 for the same distribution whatever the sample sizes, 1 when
/// no length is shared; NaN when either has no chords. It sees what the mean chord
/// hides: a generated phase whose chord lengths cluster at a few values (a texture
/// artefact) can have the real mean chord and a distance of 0.2, where blocks of one
/// real volume differ by 0.01-0.05.
double chord_distance(const Chords& a, const Chords& b);

/// How connected a phase looks in cross-sections: the mask is cut into 2D slices
/// (3D: the slices normal to `normal`, 0..2; 2D: the image itself, `normal` = -1),
/// each slice into `window` x `window` tiles (a side shorter than the window is one
/// tile; the rest of a longer side beyond the last whole tile is left out), and per
/// tile the fraction of the phase's pixels in its largest 4-connected cluster is
/// taken. Returns the mean over the tiles that hold the phase, in (0, 1]; NaN when
/// none does. 1 = every tile's phase is one cluster; a phase below the percolation
/// threshold in 2D gives values that fall with the window. It is the cheap stand-in
/// for tortuosity a slice-trained generator can be judged by: a generated phase
/// whose slices hold larger clusters than the real ones conducts better in 3D too.
/// Depends on the window: compare samples measured with the same one. Runs on the
/// CPU (the mask is copied there); ConfigError for a bad window or normal.
double slice_connectivity(const torch::Tensor& mask, int64_t window, int64_t normal = -1);

/// Settings of the diffusion solve.
struct TauOptions {
  /// Convergence: the relative change of the flux between two checks and the
  /// relative imbalance |F_in - F_out| / F must both be below this.
  TORCH_ARG(double, tolerance) = 1e-4;
  /// Iteration guard: stop (with a warning, converged = false) after this many sweeps.
  TORCH_ARG(int64_t, max_iterations) = 20000;
  /// Over-relaxation factor in (0, 2); 0 = automatic, 2 / (1 + sin(pi / (4 N))) with N
  /// the longest side (see docs/MICRO.md).
  TORCH_ARG(double, omega) = 0.0;
  /// Sweeps between two convergence checks.
  TORCH_ARG(int64_t, check_every) = 25;
  /// Start from the solution on a 2x coarser grid (recursively, while the longest side is >= 32):
  /// the same answer, far fewer fine sweeps.
  TORCH_ARG(bool, multilevel) = true;
  /// Use the tensor-operation solver on the CPU too. On the CPU a compiled loop over
  /// the phase's voxels runs by default (same scheme and result, several times
  /// faster); other devices always use tensor operations.
  TORCH_ARG(bool, tensor_ops) = false;
};

/// Result of one diffusion solve.
struct TauResult {
  int64_t axis = 0;            ///< transport axis
  bool percolating = false;    ///< the phase connects the two faces
  double percolating_fraction = 0.0;  ///< fraction of all voxels in the conducting cluster
  double d_rel = 0.0;          ///< relative effective diffusivity D_eff / D_bulk, [0, 1]
  double tau = 0.0;            ///< tortuosity factor fraction / d_rel (inf when not percolating)
  int64_t iterations = 0;      ///< fine-grid sweeps done
  bool converged = false;      ///< tolerance reached before max_iterations
  double imbalance = 0.0;      ///< final |F_in - F_out| / F
  double seconds = 0.0;        ///< wall time of the solve
};

/// Tortuosity factor and relative diffusivity of a mask (bool/0-1, 2D/3D, any
/// device) along `axis` by the TauFactor method (see the file comment). The
/// connectivity analysis runs on the CPU; the solve on the mask's device.
TauResult tortuosity(const torch::Tensor& mask, int64_t axis, const TauOptions& options = {});

/// The 6-connected (4 in 2D) part of a mask that touches both faces normal to
/// `axis` (bool, same shape and device).
torch::Tensor percolating_cluster(const torch::Tensor& mask, int64_t axis);

// ---------------------------------------------------------------- all statistics

/// What compute_stats measures.
struct StatsSettings {
  /// Largest r of S2, voxels; 0 = min(100, smallest side / 2).
  int64_t max_r = 0;
  /// Periodic S2 (circular FFT) instead of the non-periodic default.
  bool periodic = false;
  /// Count chords touching the sample boundary.
  bool edge_chords = false;
  /// Run the diffusion solves (the slow part).
  bool tortuosity = true;
  /// Tile side of slice_connectivity, pixels (64 = the slices a SliceGAN critic sees).
  int64_t cluster_window = 64;
  /// Settings of the solves.
  TauOptions tau = {};
  /// Phases to analyse (empty = all).
  std::vector<int64_t> phases = {};
};
void to_json(Json& j, const StatsSettings& s);
void from_json(const Json& j, StatsSettings& s);

/// Every statistic of one phase.
struct PhaseStats {
  int64_t phase = 0;            ///< label
  double value = 0.0;           ///< original sample value of the phase (PhaseMap::values)
  double fraction = 0.0;        ///< volume fraction
  std::vector<std::vector<double>> s2;  ///< s2[axis][r], r = 0..max_r
  double surface_area = 0.0;    ///< specific surface area, 1/voxel
  std::vector<Chords> chords;   ///< per axis
  std::vector<TauResult> tau;   ///< per axis (empty when tortuosity is off)
  double isotropy = 0.0;        ///< max over axis pairs of the S2 RMS difference
  /// slice_connectivity: 3D per slice normal (z, y, x), 2D one value (the image)
  std::vector<double> connectivity;
};

/// The interface area of one pair of phases (interface_area).
struct InterfaceArea {
  int64_t a = 0, b = 0;  ///< labels, a < b
  double area = 0.0;     ///< faces per voxel, 1/voxel length
};

/// The statistics of one label map.
struct MicroStats {
  std::string source;           ///< file or description
  std::vector<int64_t> shape;   ///< [H, W] or [D, H, W]
  int64_t num_phases = 0;       ///< P
  int64_t max_r = 0;            ///< S2 range used
  int64_t cluster_window = 0;   ///< tile side of the connectivity, pixels
  std::vector<PhaseStats> phases;  ///< analysed phases, in label order
  std::optional<double> tpb_density;  ///< set for exactly 3 phases
  /// every pair of analysed phases, (0,1), (0,2), (1,2), ...; empty below 3 phases
  /// (with 2, the one interface is each phase's surface area)
  std::vector<InterfaceArea> interfaces;
  std::map<std::string, double> seconds;  ///< wall time per statistic ("s2", "surface", "chords", "tau", "tpb", ...)
  /// Process CPU time per statistic (same keys): the compute time on a busy
  /// machine, where wall time also counts waiting for a core.
  std::map<std::string, double> cpu_seconds;
  /// The phase with label `phase`; ConfigError when it was not analysed.
  const PhaseStats& phase(int64_t phase) const;
  /// All numbers as JSON (tau = null when infinite, with "percolating": false).
  Json to_json() const;
};

/// All statistics of `labels` (int64 label map, 2D/3D, any device). `values` are
/// the original sample values of the phases (PhaseMap::values; empty = the labels).
/// Phases are 0..max label (or `values.size()` when larger). Logs the time of each
/// part with log_info when `verbose`.
MicroStats compute_stats(const torch::Tensor& labels, const StatsSettings& settings = {},
                         const std::vector<double>& values = {}, const std::string& source = "",
                         bool verbose = false);

/// The statistics of a set of same-shaped samples taken together (e.g. 64 generated
/// 64 x 64 images, or as many real crops): fraction, S2 curves, surface area and TPB
/// density and connectivity are averaged; chord histograms are summed (mean = pooled mean chord);
/// tortuosity per axis is the mean fraction over the mean relative diffusivity
/// (infinite when no sample percolates). Isotropy is recomputed from the mean
/// curves. ConfigError when the sets differ in dimension, S2 range or phases.
MicroStats pooled_stats(const std::vector<MicroStats>& sets, const std::string& source);

/// A readable text table of `stats` (one row per phase: fraction, surface area,
/// mean chords per axis, tau per axis, isotropy; the TPB density below).
std::string format_stats(const MicroStats& stats);

// ---------------------------------------------------------------- comparison

/// Differences of one phase between a reference ("real") and another sample.
struct PhaseComparison {
  int64_t phase = 0;
  double fraction_abs_diff = 0.0;        ///< |f_other - f_real|
  std::vector<double> s2_rms_diff;       ///< per axis, RMS over r = 0..min max_r
  double s2_rms_diff_mean = 0.0;         ///< mean over axes
  double surface_rel_diff = 0.0;         ///< (sa_other - sa_real) / sa_real (NaN when sa_real = 0)
  std::vector<double> tau_rel_diff;      ///< per axis, (tau_other - tau_real) / tau_real (NaN if either is inf)
  std::vector<double> mean_chord_rel_diff;  ///< per axis
  std::vector<double> chord_distance;       ///< per axis, chord_distance(real, other)
  /// per entry of PhaseStats::connectivity, other - real (signed: > 0 = the other's
  /// slices hold larger clusters)
  std::vector<double> connectivity_diff;
};

/// The interface area of one pair in a reference ("real") and another sample.
struct InterfaceComparison {
  int64_t a = 0, b = 0;
  double real = 0.0, other = 0.0;
  double rel_diff = 0.0;  ///< (other - real) / real (NaN when real = 0)
};

/// Side-by-side comparison of two stat sets.
struct StatsComparison {
  MicroStats real;                         ///< the reference
  MicroStats other;                        ///< the sample judged against it
  std::vector<PhaseComparison> phases;     ///< phases present in both
  std::optional<double> tpb_rel_diff;      ///< when both have a TPB density
  std::vector<InterfaceComparison> interfaces;  ///< pairs measured in both
  /// All numbers as JSON: {"real": ..., "other": ..., "differences": ...}.
  Json to_json() const;
  /// One row per phase and statistic: phase,statistic,axis,real,other,difference.
  std::string to_csv() const;
};

/// Compares `other` with `real` (the reference). ConfigError when their dimensions
/// (2D/3D), phase counts or connectivity windows differ, naming both sources.
StatsComparison compare_stats(const MicroStats& real, const MicroStats& other);

/// A readable text table of a comparison (real, other, difference per statistic).
std::string format_comparison(const StatsComparison& comparison);

// ---------------------------------------------------------------- spread over samples

/// One scalar statistic over several samples of a material, e.g. the blocks of one
/// volume: how much the statistic varies between sub-volumes, the yardstick a
/// generated volume is judged against.
struct StatSpread {
  int64_t phase = -1;    ///< label; -1 for a statistic of all phases (interfaces, tpb_density)
  std::string name;      ///< fraction | surface_area | isotropy | mean_chord_<axis> |
                         ///< connectivity[_<axis>] | tau_<axis> | interface_<a>_<b> | tpb_density
  int64_t n = 0;         ///< samples with a finite value
  int64_t infinite = 0;  ///< samples where it is infinite (tau of a phase that does not percolate)
  double mean = 0.0;     ///< over the finite values (NaN when n = 0)
  double sd = 0.0;       ///< sample standard deviation (n - 1 denominator; 0 when n < 2)
  double min = 0.0;      ///< smallest finite value
  double max = 0.0;      ///< largest finite value
};

/// The spread of every scalar statistic over `samples`: per phase fraction,
/// surface_area, isotropy, mean_chord_<axis>, connectivity_<axis> (3D; connectivity in
/// 2D), tau_<axis> (when computed), in phase
/// order; then interface_<a>_<b> per pair (3+ phases) and tpb_density (phase -1). ConfigError when
/// `samples` is empty or the samples differ in dimension or phases.
std::vector<StatSpread> stat_spread(const std::vector<MicroStats>& samples);

/// The entry of `spread` for (`phase`, `name`); nullptr when there is none.
const StatSpread* find_spread(const std::vector<StatSpread>& spread, int64_t phase,
                              const std::string& name);

/// How far `other`'s mean is from `reference`'s: the absolute difference for a
/// fraction or a connectivity, the relative one ((other - reference) / reference)
/// otherwise.
double spread_difference(const StatSpread& reference, const StatSpread& other);

/// (other.mean - reference.mean) / reference.sd; NaN when the reference sd is 0.
double spread_difference_in_sd(const StatSpread& reference, const StatSpread& other);

/// A text table of `spread` (mean, sd, min..max per statistic). With `other` (the same
/// statistics of other samples): side by side, with the difference of the means
/// (absolute for fractions, relative otherwise) and that difference in units of
/// `spread`'s sd.
std::string format_spread(const std::vector<StatSpread>& spread,
                          const std::vector<StatSpread>* other = nullptr);

/// The statistics of the blocks of one sample (see micro::split_blocks) and their spread.
struct BlockStats {
  std::string source;                ///< file (and region) the blocks were cut from
  std::vector<std::string> regions;  ///< per block, "a:b,c:d[,e:f]" in the sample's voxels
  std::vector<MicroStats> blocks;    ///< per block
  std::vector<StatSpread> spread;    ///< stat_spread(blocks)
};

// ---------------------------------------------------------------- output

/// Writes into `dir` (created): stats.json, stats.csv, PNG plots (s2_phase<P>.png
/// with one curve per axis, chords_phase<P>.png) and index.html through
/// report::Report. Returns the path of index.html.
fs::path write_stats_report(const fs::path& dir, const MicroStats& stats);

/// Writes into `dir` (created): stats.json (both sets + differences),
/// comparison.csv, PNG plots (s2_phase<P>_axis<A>.png real vs other,
/// chords_phase<P>_axis<A>.png both histograms, fraction bar chart) and index.html.
/// `real_name`/`other_name` label the curves. Returns the path of index.html.
fs::path write_comparison_report(const fs::path& dir, const StatsComparison& comparison,
                                 const std::string& real_name = "real", const std::string& other_name = "other");

/// Writes into `dir` (created): blocks.json (every block's statistics and the
/// spread), blocks.csv (one row per block, phase and statistic), spread.csv (mean,
/// sd, min, max per statistic; with `other`, its columns and the differences),
/// spread_phase<P>.png (with `other`: per statistic the input's relative sd beside
/// the relative difference of the means) and index.html. Returns index.html.
fs::path write_blocks_report(const fs::path& dir, const BlockStats& input,
                             const BlockStats* other = nullptr);

}  // namespace emgan::micro
