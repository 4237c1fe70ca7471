// `emgan scanpath spiral|grid|lines|random|rasterise` and `emgan restore data|train|predict|eval`.
// GCC 12 reports a false -Wmaybe-uninitialized inside nlohmann's defaulted from_json for
// nested structs holding vectors (RestoreTrainSettings.discriminator.scales); see tests/core/test_config.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <iostream>

#include "cli.h"
#include "emgan/restore/restore.h"

namespace emgan::cli {

void register_scanpath(CLI::App& root, const Context& ctx) {
  auto* sp = root.add_subcommand("scanpath", "Partial-scan paths (spiral, jittered grid, lines, random): probe positions CSV + mask");
  sp->require_subcommand(1);
  static std::map<std::string, restore::ScanPathSettings> settings;
  const std::map<std::string, std::string> help = {
      {"spiral", "Archimedean spiral at a requested coverage"},
      {"grid", "jittered grid: rows and columns whose offsets are random walks with momentum"},
      {"lines", "every n-th row"},
      {"random", "random pixels"}};
  for (const auto& kind : restore::kPathKinds) {
    auto& s = settings[kind];
    s.kind = kind;
    s.out = "scanpath-" + kind;
    load_config(ctx, "scanpath " + kind, s);
    s.kind = kind;
    auto* cmd = sp->add_subcommand(kind, help.at(kind) + "; writes positions.csv, mask.tif/.png, prints the achieved coverage");
    cmd->add_option("--coverage", s.path.coverage, "fraction of pixels to sample, (0, 1]");
    cmd->add_option("--height", s.height, "frame rows, px");
    cmd->add_option("--width", s.width, "frame columns, px");
    cmd->add_option("--step", s.path.step, "probe spacing along the path, px");
    cmd->add_option("--seed", s.path.seed, "seed of the random choices (grid, random)");
    cmd->add_option("--blur", s.blur, "Gaussian sigma of the beam spread (writes mask_blurred.tif), px; 0 = none");
    cmd->add_option("--out", s.out, "output folder");
    if (kind == "spiral") {
      cmd->add_option("--rotation", s.path.rotation, "rotation of the spiral's start, rad");
      cmd->add_option("--center-dx", s.path.center_dx, "centre offset from the frame centre along x, px");
      cmd->add_option("--center-dy", s.path.center_dy, "centre offset from the frame centre along y, px");
    }
    if (kind == "spiral" || kind == "grid")
      cmd->add_option("--refine-tolerance", s.path.refine_tolerance,
                      "refine the spacing until the coverage is within this relative tolerance; 0 = nominal spacing");
    if (kind == "grid") {
      cmd->add_option("--momentum", s.path.momentum, "momentum of each line's random walk, [0, 1)");
      cmd->add_option("--jitter", s.path.jitter, "velocity noise of the random walk, px");
    }
    if (kind == "lines") cmd->add_option("--every", s.path.every, "sample every n-th row (0 = from --coverage)");
    add_config_option(cmd);
    cmd->callback([kind] {
      const auto r = restore::run_scanpath(settings[kind]);
      std::cout << "kind=" << kind << " " << r.last_line() << " -> " << settings[kind].out << std::endl;
    });
  }
  static restore::RasteriseSettings ras;
  load_config(ctx, "scanpath rasterise", ras);
  auto* rcmd = sp->add_subcommand("rasterise", "rasterise a CSV of probe positions (x, y px) and intensities into partial_scan.tif + mask.tif");
  rcmd->add_option("--csv", ras.csv, "CSV with columns x, y, intensity")->required();
  rcmd->add_option("--height", ras.height, "frame rows, px")->required();
  rcmd->add_option("--width", ras.width, "frame columns, px")->required();
  rcmd->add_option("--out", ras.out, "output folder");
  add_config_option(rcmd);
  rcmd->callback([] {
    const double c = restore::run_rasterise(ras);
    std::cout << "coverage=" << c << " (1/" << 1.0 / c << ") -> " << ras.out << std::endl;
  });
}

void register_restore(CLI::App& root, const Context& ctx) {
  auto* rs = root.add_subcommand("restore", "Partial-scan STEM restoration: synthetic data, train, predict, eval (restorer + classical baselines)");
  rs->require_subcommand(1);

  static restore::RestoreDataSettings data;
  load_config(ctx, "restore data", data);
  auto* dcmd = rs->add_subcommand("data", "write synthetic STEM-like training micrographs (float32 TIFF in [0, 1])");
  dcmd->add_option("--out", data.out, "output folder");
  dcmd->add_option("--count", data.count, "number of micrographs");
  dcmd->add_option("--size", data.synthetic.size, "side of each micrograph, px");
  dcmd->add_option("--seed", data.seed, "seed of the first micrograph (then +1 each)");
  dcmd->add_option("--noise-probability", data.synthetic.noise_probability, "probability of shot/read/streak noise");
  add_config_option(dcmd);
  dcmd->callback([] {
    const auto n = restore::run_restore_data(data);
    std::cout << "wrote " << n << " micrographs into " << data.out << std::endl;
  });

  static restore::RestoreTrainSettings tr;
  load_config(ctx, "restore train", tr);
  auto* tcmd = rs->add_subcommand("train", "train the restorer on crops of a folder of micrographs (partial scans made on the fly)");
  tcmd->add_option("--data", tr.data, "folder of micrographs (searched recursively)");
  tcmd->add_option("--out", tr.out, "run directory");
  tcmd->add_option("--steps", tr.steps, "optimisation steps");
  tcmd->add_option("--batch-size", tr.batch_size, "crops per step");
  tcmd->add_option("--crop", tr.crop, "crop side, px (divisible by the generator's stride)");
  tcmd->add_option("--lr", tr.lr, "Adam learning rate");
  tcmd->add_option("--schedule", tr.schedule, "constant | cosine");
  tcmd->add_option("--base", tr.base, "classical base the network corrects: none | nearest | linear | harmonic | biharmonic");
  tcmd->add_option("--base-max-iterations", tr.baseline.max_iterations, "conjugate-gradient iterations of the base at most");
  tcmd->add_option("--lambda-adv", tr.lambda_adv, "adversarial weight (0 = non-adversarial restorer)");
  tcmd->add_option("--lambda-aux", tr.lambda_aux, "weight of the ancillary half-size MSE");
  tcmd->add_option("--target-blur", tr.target_blur, "Gaussian sigma of the MSE target, px");
  tcmd->add_option("--path", tr.path, "spiral | grid | lines | random | mixed");
  tcmd->add_option("--min-coverage", tr.min_coverage, "lowest coverage of the training paths");
  tcmd->add_option("--max-coverage", tr.max_coverage, "highest coverage of the training paths");
  tcmd->add_option("--dose", tr.dose, "Poisson noise at this many counts/px at full scale (0 = none)");
  tcmd->add_option("--inner-widths", tr.generator.inner_widths, "widths of the inner network (Ede: 64 128 256 512 768)");
  tcmd->add_option("--outer-width", tr.generator.outer_width, "width of the outer network (Ede: 64)");
  tcmd->add_option("--inner-res-blocks", tr.generator.inner_res_blocks, "residual blocks of the inner network");
  tcmd->add_option("--outer-res-blocks", tr.generator.outer_res_blocks, "residual blocks of the outer network");
  tcmd->add_option("--log-every", tr.log_every, "metrics row every N steps");
  tcmd->add_option("--checkpoint-every", tr.checkpoint_every, "checkpoint every N steps");
  tcmd->add_flag("--resume,!--no-resume", tr.resume, "continue from RUN/checkpoint.pt");
  add_config_option(tcmd);
  add_runtime_options(tcmd, tr.runtime);
  tcmd->callback([] {
    const double mse = restore::run_restore_train(tr);
    std::cout << "final_mse=" << mse << " model=" << (fs::path(tr.out) / "model").string() << std::endl;
  });

  static restore::RestorePredictSettings pr;
  load_config(ctx, "restore predict", pr);
  auto* pcmd = rs->add_subcommand("predict", "restore one partial scan (float32 TIFF + PNG) and time it");
  pcmd->add_option("--model", pr.model, "restorer folder (RUN/model)")->required();
  pcmd->add_option("--scan", pr.scan, "partial scan image")->required();
  pcmd->add_option("--mask", pr.mask, "sampling mask image (> 0.5 = sampled)")->required();
  pcmd->add_option("--out", pr.out, "output folder");
  pcmd->add_option("--repeat", pr.repeat, "timed repetitions after a warm-up");
  add_config_option(pcmd);
  add_runtime_options(pcmd, pr.runtime);
  pcmd->callback([] {
    const double t = restore::run_restore_predict(pr);
    std::cout << "seconds_per_image=" << t << " -> " << pr.out << std::endl;
  });

  static restore::RestoreEvalSettings ev;
  load_config(ctx, "restore eval", ev);
  auto* ecmd = rs->add_subcommand("eval", "evaluate the restorer and the classical baselines (RMS, SSIM, PSNR, error vs distance, spectra)");
  ecmd->add_option("--data", ev.data, "folder of truth<ID>, mask<ID>, partial_scan<ID> images")->required();
  ecmd->add_option("--model", ev.model, "restorer folder (RUN/model); empty = baselines only");
  ecmd->add_option("--methods", ev.methods, "baselines: nearest linear harmonic biharmonic");
  ecmd->add_option("--coverages", ev.coverages, "coverage sweep made from the truths, e.g. 0.1 0.05 0.02 0.01");
  ecmd->add_option("--path", ev.path, "path kind of the sweep");
  ecmd->add_flag("--given,!--no-given", ev.given, "evaluate the given masks and partial scans");
  ecmd->add_option("--given-scan", ev.given_scan, "sampled values of the given set: truth (truth at the sampled pixels) | file (partial_scan<ID> as stored)");
  ecmd->add_option("--out", ev.out, "run directory");
  ecmd->add_option("--panels", ev.panels, "images shown per set");
  ecmd->add_option("--max-images", ev.max_images, "evaluate only the first N truths (0 = all)");
  ecmd->add_option("--max-iterations", ev.baseline.max_iterations, "harmonic/biharmonic conjugate-gradient iterations");
  add_config_option(ecmd);
  add_runtime_options(ecmd, ev.runtime);
  ecmd->callback([] {
    const auto summary = restore::run_restore_eval(ev);
    std::cout << summary.last_line() << std::endl;
  });
}

}  // namespace emgan::cli
