#include "emgan/workflows/demo.h"

#include <torch/torch.h>

#include <random>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/io/image.h"
#include "emgan/report/report.h"
#include "emgan/sim/synthetic.h"
#include "emgan/workflows/translate.h"

namespace emgan::workflows {

void write_synthetic_pairs(const std::string& dir, int64_t n, int64_t size_min, int64_t size_max, uint64_t seed) {
  EMGAN_CHECK(ConfigError, n >= 2, "demo: pairs = ", n, " must be >= 2");
  EMGAN_CHECK(ConfigError, size_min >= 16 && size_max >= size_min, "demo: sizes [", size_min, ", ", size_max,
              "] must satisfy 16 <= size_min <= size_max");
  const fs::path root = fs::path(dir) / "synthetic";
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> side(size_min, size_max);
  for (int64_t i = 0; i < n; ++i) {
    sim::SyntheticPairOptions o;
    o.height = side(rng);
    o.width = side(rng);
    auto pair = sim::make_synthetic_pair(seed * 1000003ULL + static_cast<uint64_t>(i), o);
    io::write_image(root / "synthetic_convolution" / ("synthetic_convolution_" + std::to_string(i) + ".txt"),
                    pair.convolution);
    io::write_image(root / "synthetic_multislice" / ("synthetic_" + std::to_string(i) + "_cl160mm_ss.tif"),
                    pair.multislice);
  }
}

std::string run_demo(const DemoSettings& s) {
  const fs::path run = s.out;
  ensure_dir(run);
  save_json_file(run / "config.json", Json(s));
  apply_runtime(s.runtime);
  log_info("demo: generating " + std::to_string(s.pairs) + " synthetic pairs");
  write_synthetic_pairs((run / "data").string(), s.pairs, s.size_min, s.size_max, s.runtime.seed);

  report::Report rep("emgan demo");
  rep.section("What this is")
      .paragraph("The demo makes its own data set: synthetic nanoparticles of atom columns, imaged once with a "
                 "fast 'convolution' model (linear in thickness) and once with a 'multislice' stand-in (channelling "
                 "saturates with thickness, the probe spreads with depth). It then learns the mapping from the first "
                 "to the second with the polynomial baseline and with a small pix2pix (U-Net + PatchGAN), both "
                 "cross-validated by whole image, and reports the test errors in the target's units.");

  std::vector<std::vector<std::string>> rows;
  auto run_one = [&](const std::string& title, TranslateSettings ts) {
    const auto summary = run_cv(ts);
    const std::string rel = fs::relative(ts.out, run).string();
    rows.push_back({title, std::to_string(summary.rows.size()), std::to_string(summary.folds),
                    report::format_number(summary.mean_frac_rmse, 4), report::format_number(summary.mean_ssim, 4),
                    rel + "/index.html"});
    log_info(title + ": " + summary.last_line());
  };

  TranslateSettings base;
  base.data = (run / "data").string();
  base.folds = s.folds;
  base.runtime = s.runtime;
  base.panels = 2;

  TranslateSettings poly = base;
  poly.model = "poly";
  poly.out = (run / "translate_poly").string();
  run_one("poly, synthetic pairs", poly);

  TranslateSettings pix = base;
  pix.model = "pix2pix";
  pix.out = (run / "translate_pix2pix").string();
  pix.pix2pix.preset = "";
  pix.pix2pix.generator = "unet";
  pix.pix2pix.generator_options = Json{{"depth", 4}, {"ngf", 16}, {"norm", "instance"}, {"dropout", 0.0},
                                       {"output_activation", "none"}};
  pix.pix2pix.discriminator = "patchgan";
  pix.pix2pix.discriminator_options = Json{{"ndf", 16}, {"n_layers", 2}, {"norm", "instance"}};
  pix.pix2pix.lambda_gan = 1.0;
  pix.pix2pix.lambda_rec = 100.0;
  pix.pix2pix.epochs = s.epochs;
  pix.pix2pix.crop = 48;
  pix.pix2pix.batch_size = 4;
  pix.pix2pix.crops_per_image = 8;
  pix.pix2pix.lr = 1e-3;
  run_one("pix2pix (small U-Net), synthetic pairs", pix);

  if (!s.real_data.empty() && fs::is_directory(s.real_data)) {
    TranslateSettings real = base;
    real.data = s.real_data;
    real.model = "poly";
    real.folds = 5;
    real.out = (run / "translate_poly_real").string();
    run_one("poly, real Pt/Pt-Mo pairs (" + s.real_data + ")", real);
  } else if (!s.real_data.empty()) {
    log_info("demo: real data not found at " + s.real_data + " (skipped)");
  }

  rep.section("Results (test folds)")
      .table({"run", "test images", "folds", "mean frac RMSE %", "mean SSIM", "report"}, rows,
             "Each run's own report holds the panels, learning curves, per-fold table and configuration.");
  for (const auto& r : rows) {
    const std::string dir = fs::path(r.back()).parent_path().string();
    bool shown = false;
    for (int f = 0; f < s.folds && !shown; ++f) {
      const std::string panel = dir + "/fold_" + std::to_string(f) + "/panels.png";
      if (fs::exists(run / panel)) {
        rep.image(panel, r[0] + ": test images of fold " + std::to_string(f));
        shown = true;
      }
    }
    if (fs::exists(run / dir / "error_per_epoch.png")) rep.image(dir + "/error_per_epoch.png", r[0] + ": error per epoch");
  }
  rep.section("Configuration").json(Json(s), "config.json");
  return rep.write(run).string();
}

}  // namespace emgan::workflows
