// `emgan orient data|train|eval|predict`.
#include <iostream>

#include "cli.h"
#include "emgan/orient/orient.h"

namespace emgan::cli {

void register_orient(CLI::App& root, const Context& ctx) {
  auto* ori = root.add_subcommand("orient", "Particle orientation from stereo pairs without angle labels");
  ori->require_subcommand(1);

  static orient::DataSettings data;
  load_config(ctx, "orient data", data);
  auto* d = ori->add_subcommand("data", "synthetic stereo pairs: polygons, their 1D profiles or tilted polyhedra (pairs.pt, labels.pt apart)");
  d->add_option("--out", data.out, "output folder");
  d->add_option("--kind", data.kind,
                "polygon (2D in-plane) | projection1d (the polygon image summed over y) | polyhedron (3D, tilted about y) | "
                "polyhedron3d (3D, any rotation, tilted about random in-plane axes)");
  d->add_option("--polyhedra", data.polyhedra,
                "polyhedron kind: shapes (tetrahedron cube octahedron cuboctahedron decahedron icosahedron "
                "truncated_octahedron), distinct tilt orders");
  d->add_option("--count", data.count, "number of stereo pairs");
  d->add_option("--size", data.size, "image side, px (multiple of 16)");
  d->add_option("--min-sides", data.min_sides, "smallest polygon order");
  d->add_option("--max-sides", data.max_sides, "largest polygon order");
  d->add_option("--radius-min", data.radius_min, "smallest circumradius, fraction of the side");
  d->add_option("--radius-max", data.radius_max, "largest circumradius, fraction of the side");
  d->add_option("--position-jitter", data.position_jitter, "centre offset, up to this fraction of the side");
  d->add_option("--stereo-shift", data.stereo_shift_px, "random drift of image b, px");
  d->add_option("--offset-min", data.offset_min_deg, "smallest known rotation of b vs a, degrees");
  d->add_option("--offset-max", data.offset_max_deg, "largest known rotation of b vs a, degrees");
  d->add_option("--doses", data.doses, "electrons/px at intensity 1, one drawn per pair (<= 0: no shot noise)");
  d->add_option("--gaussian-sigma", data.gaussian_sigma, "Gaussian read noise, units of the particle intensity");
  d->add_option("--supersample", data.supersample, "anti-aliasing sub-grid per pixel side");
  add_config_option(d);
  add_runtime_options(d, data.runtime);
  d->callback([] { orient::run_data(data); });

  static orient::TrainSettings train;
  load_config(ctx, "orient train", train);
  auto* t = ori->add_subcommand("train", "train siamese | reconstruct (label-free) or supervised; writes RUN/model.pt");
  t->add_option("--data", train.data, "data folder of `orient data`");
  t->add_option("--out", train.out, "run folder");
  t->add_option("--method", train.method, "siamese | reconstruct | supervised");
  t->add_option("--angle-loss", train.angle_loss, "periodic | mse (mse: plain angle regression, supervised only)");
  t->add_option("--epochs", train.epochs, "passes over the pairs (-1 = automatic: 120 for reconstruct with the renderer, 60 otherwise)");
  t->add_option("--batch-size", train.batch_size, "pairs per step");
  t->add_option("--lr", train.lr, "Adam learning rate (cosine decay)");
  t->add_option("--width", train.width, "channels of the first convolution");
  t->add_option("--denoise-sigma", train.denoise_sigma, "Gaussian denoise of the preprocessing, px");
  t->add_option("--generator", train.generator,
                "reconstruct: learned (a generator network trained with the encoder) | renderer (the polygon renderer of "
                "the data with a learned size)")
      ->capture_default_str();
  t->add_option("--generator-width", train.generator_width, "reconstruct, learned: generator channels at full resolution")
      ->capture_default_str();
  t->add_option("--render-supersample", train.render_supersample, "reconstruct, renderer: anti-aliasing");
  t->add_option("--spread-weight", train.spread_weight, "siamese: per-shape anti-collapse weight (phases spread over the batch)");
  t->add_option("--stereo-loss", train.stereo_loss,
                "siamese, polyhedron3d: nearest (closest of the 4|G| candidates) | invariant (smooth, on a G-invariant embedding)");
  t->add_option("--inplane-weight", train.inplane_weight,
                "siamese (polygon, polyhedron3d) and reconstruct: weight of the digital in-plane rotation term "
                "(0: off)")
      ->capture_default_str();
  t->add_option("--zero-views", train.zero_views,
                "siamese and reconstruct (learned), polygon: the zero is the circular mean over the reference turned to this many angles (1: reference alone)");
  t->add_flag("--zero-noise,!--no-zero-noise", train.zero_noise,
              "siamese and reconstruct (learned), polygon: give the turned reference views the training images' noise (doses of pairs.pt, data.json)");
  t->add_option("--zero-scale", train.zero_scale,
                "siamese and reconstruct (learned), polygon: the zero views also vary in size by [1/(1+x), 1+x] and position by 1.5 px (0: none)");
  t->add_option("--spread-tau", train.spread_tau, "siamese, polyhedron3d: length scale of the spread term, sin^2(angle/2)");
  t->add_option("--norm-weight", train.norm_weight, "siamese: weight of the (|phase| - 1)^2 term");
  t->add_option("--cross-penalty", train.cross_penalty,
                "siamese, folded kinds: cost of the branch where a pair crosses a mirror point (see --cross-mode)")
      ->capture_default_str();
  t->add_option("--cross-mode", train.cross_mode,
                "siamese, folded kinds: offset (cross_penalty x (1 - cos(n offset)) per crossing pair) | constant "
                "(cross_penalty per crossing pair)")
      ->capture_default_str();
  t->add_option("--cross-penalty-start", train.cross_penalty_start,
                "siamese, folded kinds: crossing cost at the start, lowered to --cross-penalty over the first half "
                "(-1: none)")
      ->capture_default_str();
  t->add_option("--augment-scale", train.augment_scale, "siamese: random size factor in [1/(1+x), 1+x] (angle kept)");
  t->add_option("--augment-shift", train.augment_shift_px, "siamese: random shift up to this many px (angle kept)");
  t->add_option("--augment-noise", train.augment_noise, "siamese: added noise, units of the image std");
  t->add_option("--size-weight", train.size_weight,
                "siamese and reconstruct (learned): weight of the size term (image a resized/shifted keeps its angle); -1 = 1, except 0 for "
                "polyhedron3d")
      ->capture_default_str();
  t->add_option("--restarts", train.restarts,
                "train this many candidates (seeds seed, seed+1, ...) for --restart-fraction of the epochs and finish "
                "the one with the lowest training loss; -1 = 3 for siamese on polyhedron3d data, 1 otherwise")
      ->capture_default_str();
  t->add_option("--restart-fraction", train.restart_fraction, "share of the epochs each restart candidate trains")
      ->capture_default_str();
  t->add_flag("--resume,!--no-resume", train.resume, "continue from RUN/checkpoint.pt");
  add_config_option(t);
  add_runtime_options(t, train.runtime);
  t->callback([] {
    const auto r = orient::run_train(train);
    std::cout << "orient train: " << train.method << " epochs=" << r.epochs << " loss=" << r.final_loss
              << " seconds=" << r.seconds << std::endl;
  });

  static orient::EvalSettings ev;
  load_config(ctx, "orient eval", ev);
  auto* e = ori->add_subcommand("eval", "accuracy modulo symmetry on a labelled data folder, with report");
  e->add_option("--model", ev.model, "run folder (model.pt)");
  e->add_option("--data", ev.data, "labelled data folder (not the training one)");
  e->add_option("--out", ev.out, "output folder (default RUN/eval)");
  e->add_option("--tta-views", ev.tta_views,
                "polygon models: average each angle over the image turned to this many angles (0 = 8 for polygon models, 1 otherwise)");
  add_config_option(e);
  add_runtime_options(e, ev.runtime);
  e->callback([] { std::cout << orient::run_eval(ev).last_line() << std::endl; });

  static orient::PredictSettings pr;
  load_config(ctx, "orient predict", pr);
  auto* p = ori->add_subcommand("predict", "angle of each image (degrees in [0, 360/order))");
  p->add_option("--model", pr.model, "run folder (model.pt)")->required();
  p->add_option("--input", pr.input, "image file or folder")->required();
  p->add_option("--order", pr.order, "symmetry order (number of sides; polyhedron3d: rotation group size, 24 for a cube)")->required();
  p->add_option("--output", pr.output, "CSV file to write");
  p->add_option("--tta-views", pr.tta_views,
                "polygon models: average each angle over the image turned to this many angles (0 = 8 for polygon models, 1 otherwise)");
  add_config_option(p);
  add_runtime_options(p, pr.runtime);
  p->callback([] {
    if (orient::load_model(pr.model, torch::Device(torch::kCPU)).kind == "polyhedron3d") {
      for (const auto& [name, rot] : orient::run_predict_rotations(pr)) {
        std::cout << name << " order=" << pr.order << " rotation_row_major=";
        const auto r = rot.contiguous();
        for (int64_t i = 0; i < 9; ++i) std::cout << (i ? "," : "") << r.view({9})[i].item<double>();
        std::cout << std::endl;
      }
      return;
    }
    for (const auto& [name, angle] : orient::run_predict(pr))
      std::cout << name << " order=" << pr.order << " angle_deg=" << angle << std::endl;
  });
}

}  // namespace emgan::cli
