// `emgan micro stats`.
#include <iostream>

#include "cli.h"
#include "emgan/micro/workflow.h"

namespace emgan::cli {

void register_micro(CLI::App& root, const Context& ctx) {
  auto* micro = root.add_subcommand("micro", "Microstructure statistics of phase images and volumes");
  micro->require_subcommand(1);

  static micro::StatsRunSettings s;
  load_config(ctx, "micro stats", s);
  auto* st = micro->add_subcommand(
      "stats",
      "volume fraction, S2, surface area, TPB density, chords, tortuosity per phase; --compare for differences");
  st->add_option("input", s.input, "label image or volume (PNG/TIFF/multi-page TIFF/npy/mrc)");
  st->add_option("--compare", s.compare, "second sample compared with the input (the reference)");
  st->add_option("--phases", s.phases, "0 = detect the labels; N = segment a grey image into N phases (Otsu)");
  st->add_option("--out", s.out, "output folder (stats.json, CSV, PNG plots, index.html)");
  st->add_option("--max-r", s.stats.max_r, "largest r of S2, voxels (0 = min(100, side / 2))");
  st->add_option("--region", s.region, "sub-region of the input, e.g. \"0:128,0:128,0:128\" (z,y,x)");
  st->add_option("--compare-region", s.compare_region, "sub-region of --compare");
  st->add_option(
        "--blocks", s.blocks,
        "N > 1: analyse N parts per axis of the sample (and of --compare) each on its own and "
        "report "
        "the spread between them (the natural variation of the material); 1 = the whole sample")
      ->capture_default_str();
  st->add_flag("--periodic,!--no-periodic", s.stats.periodic, "periodic S2 (circular FFT)");
  st->add_flag("--edge-chords,!--no-edge-chords", s.stats.edge_chords, "count chords touching the boundary");
  st->add_flag("--tortuosity,!--no-tortuosity", s.stats.tortuosity, "run the diffusion solves (slowest part)");
  st->add_option(
        "--cluster-window", s.stats.cluster_window,
        "tile side (pixels) of the slice connectivity: the fraction of each phase in the largest "
        "cluster of each tile of the 2D slices")
      ->capture_default_str();
  st->add_option_function<double>(
        "--tau-tolerance", [](double v) { s.stats.tau.tolerance(v); },
        "relative flux change and imbalance at convergence")
      ->default_str(std::to_string(s.stats.tau.tolerance()));
  st->add_option_function<int64_t>(
        "--tau-max-iterations", [](int64_t v) { s.stats.tau.max_iterations(v); },
        "iteration guard of each solve (a warning when reached)")
      ->default_str(std::to_string(s.stats.tau.max_iterations()));
  st->add_option_function<double>(
        "--omega", [](double v) { s.stats.tau.omega(v); }, "SOR over-relaxation in (0, 2); 0 = automatic")
      ->default_str(std::to_string(s.stats.tau.omega()));
  add_config_option(st);
  add_runtime_options(st, s.runtime);
  st->callback([] {
    const auto result = micro::run_stats(s);
    std::cout << result.table << "report: " << result.report.string() << std::endl;
  });
}

}  // namespace emgan::cli
