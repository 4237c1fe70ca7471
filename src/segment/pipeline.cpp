#include "emgan/segment/pipeline.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/data/augment.h"
#include "emgan/data/sample.h"
#include "emgan/io/image.h"
#include "emgan/models/discriminators.h"
#include "emgan/models/generators.h"
#include "emgan/report/grid.h"
#include "emgan/report/html.h"
#include "emgan/report/metrics_log.h"
#include "emgan/train/optim.h"
#include "emgan/train/pix2pix.h"
#include "emgan/train/trainer.h"

namespace emgan::segment {

int64_t run_rough(const RoughSettings& s) {
  validate(s.rough, "rough");
  EMGAN_CHECK(ConfigError, s.limit >= 0, "limit ", s.limit, " must be >= 0");
  const auto device = apply_runtime(s.runtime);
  auto files = list_images(s.images);
  EMGAN_CHECK(IoError, !files.empty(), s.images, ": no readable image");
  if (s.limit > 0 && static_cast<int64_t>(files.size()) > s.limit) files.resize(static_cast<size_t>(s.limit));
  ensure_dir(s.out);
  save_json_file(fs::path(s.out) / "rough_settings.json", Json(s));
  Progress progress("rough", static_cast<int64_t>(files.size()), "img");
  int64_t done = 0;
  for (const auto& f : files) {
    const auto mask = rough_mask(io::read_image(f).data.to(device), s.rough);
    if (!mask.any().item<bool>()) log_info(f.string() + ": the rough segmentation found no particle");
    write_mask_png(fs::path(s.out) / (f.stem().string() + ".png"), mask);
    progress.update(++done);
  }
  progress.finish();
  return done;
}

MaskStatistics run_stats(const fs::path& masks, const fs::path& out, const WatershedSettings& split,
                         const MaskFitSettings& fit) {
  fit.validate("segment stats");
  std::vector<torch::Tensor> ms;
  for (const auto& f : list_images(masks)) ms.push_back(binarize_mask(io::read_image(f).data));
  EMGAN_CHECK(IoError, !ms.empty(), masks.string(), ": no readable mask");
  const auto st = fit_mask_statistics(ms, split, fit);
  if (!out.empty()) save_json_file(out, Json(st));
  return st;
}

int64_t run_clean_masks(const fs::path& masks, const fs::path& out, double min_area, bool fill) {
  const auto files = list_images(masks);
  EMGAN_CHECK(IoError, !files.empty(), masks.string(), ": no readable mask");
  ensure_dir(out);
  int64_t done = 0;
  for (const auto& f : files) {
    write_mask_png(out / (f.stem().string() + ".png"), clean_mask(binarize_mask(io::read_image(f).data), min_area, fill));
    ++done;
  }
  return done;
}

int64_t run_random_masks(const RandomMasksSettings& s) {
  EMGAN_CHECK(ConfigError, s.count >= 1, "count ", s.count, " must be >= 1");
  RandomMaskSettings ms = s.masks;
  if (!s.stats.empty()) {
    const auto st = settings_from_json<MaskStatistics>(load_json_file(s.stats), s.stats);
    ms = settings_from_statistics(st, s.masks.height, s.masks.width);
    ms.min_gap = s.masks.min_gap;
    ms.max_attempts = s.masks.max_attempts;
  }
  ms.validate("masks");
  ensure_dir(s.out);
  save_json_file(fs::path(s.out) / "mask_settings.json", Json(ms));
  auto gen = data::make_generator(s.seed);
  int64_t placed = 0, requested = 0;
  Progress progress("masks", s.count, "mask");
  Json ellipses = Json::object();
  for (int64_t i = 0; i < s.count; ++i) {
    const auto m = random_mask(ms, gen);
    char name[32];
    std::snprintf(name, sizeof name, "mask_%04lld.png", static_cast<long long>(i));
    write_mask_png(fs::path(s.out) / name, m.mask);
    ellipses[name] = Json(m.ellipses);
    placed += static_cast<int64_t>(m.ellipses.size());
    requested += m.requested;
    progress.update(i + 1);
  }
  progress.finish();
  save_json_file(fs::path(s.out) / "ellipses.json", ellipses);
  if (placed < requested) {
    log_info("masks: " + std::to_string(requested - placed) + " of " + std::to_string(requested) +
             " particles did not fit without overlap");
  }
  return placed;
}

int64_t run_redraw_masks(const fs::path& masks, const fs::path& out, double grow) {
  EMGAN_CHECK(ConfigError, std::isfinite(grow), "redraw masks: grow ", grow, " must be finite");
  const fs::path list_path = masks / "ellipses.json";
  EMGAN_CHECK(IoError, fs::exists(list_path), list_path.string(),
              ": not found (written by `segment masks` and the pipeline beside the random masks)");
  std::map<std::string, std::vector<Ellipse>> by_mask;
  try {
    by_mask = load_json_file(list_path).get<std::map<std::string, std::vector<Ellipse>>>();
  } catch (const Json::exception& e) {
    throw IoError(list_path.string() + ": expected {mask file: [{cx, cy, a, b, angle}, ...]}: " + e.what());
  }
  const auto files = list_images(masks);
  EMGAN_CHECK(IoError, !files.empty(), masks.string(), ": no readable mask");
  ensure_dir(out);
  int64_t done = 0;
  for (const auto& f : files) {
    const auto shape = binarize_mask(io::read_image(f).data);
    const int64_t h = shape.size(0), w = shape.size(1);
    auto mask = torch::zeros({h, w}, torch::kBool);
    const auto it = by_mask.find(f.filename().string());
    if (it != by_mask.end()) {
      for (const auto& e : it->second) {
        EMGAN_CHECK(IoError, e.a > 0 && e.b > 0 && std::isfinite(e.cx) && std::isfinite(e.cy) && std::isfinite(e.angle),
                    list_path.string(), ": ", f.filename().string(), ": ellipse (cx ", e.cx, ", cy ", e.cy, ", a ", e.a,
                    ", b ", e.b, ") needs finite values and a, b > 0");
        // Each semi-axis changes by grow, down to half a pixel at least.
        const double g = std::max({grow, 0.5 - e.a, 0.5 - e.b});
        const auto win = ellipse_window(e, h, w, g, mask.options());
        if (win.empty()) continue;
        using torch::indexing::Slice;
        const auto rows = Slice(win.y0, win.y1), cols = Slice(win.x0, win.x1);
        mask.index_put_({rows, cols}, mask.index({rows, cols}) | (win.rho2 <= 1.0));
      }
    }
    write_mask_png(out / f.filename(), mask);
    ++done;
  }
  return done;
}

namespace {

// match_particles(reference, test) as diameter differences d(test) - d(reference),
// px, and reference diameters, appended; counts as in ParticleMatch.
void attributed_diameters(const torch::Tensor& reference, const torch::Tensor& test, std::vector<double>& differences,
                          std::vector<double>& diameters, int64_t& particles, int64_t& missed,
                          double found_fraction = 0.0) {
  ParticleMatch m;
  match_particles(reference, test, m, found_fraction);
  particles += m.particles;
  missed += m.missed;
  for (size_t i = 0; i < m.test_diameters.size(); ++i) {
    differences.push_back(m.test_diameters[i] - m.reference_diameters[i]);
    diameters.push_back(m.reference_diameters[i]);
  }
}

// Mean of the values left after dropping the lowest and highest 10 %.
double trimmed_mean(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t cut = v.size() / 10;
  double sum = 0;
  for (size_t i = cut; i < v.size() - cut; ++i) sum += v[i];
  return sum / static_cast<double>(v.size() - 2 * cut);
}

// The image of each mask of `masks`, by stem; IoError naming a mask without one.
std::vector<std::pair<fs::path, fs::path>> image_mask_pairs(const fs::path& images, const fs::path& masks) {
  const auto mask_files = list_images(masks);
  EMGAN_CHECK(IoError, !mask_files.empty(), masks.string(), ": no readable mask");
  std::map<std::string, fs::path> image_by_stem;
  for (const auto& f : list_images(images)) image_by_stem[f.stem().string()] = f;
  std::vector<std::pair<fs::path, fs::path>> out;
  for (const auto& mf : mask_files) {
    const auto found = image_by_stem.find(mf.stem().string());
    EMGAN_CHECK(IoError, found != image_by_stem.end(), images.string(), ": no image for mask ", mf.string());
    out.emplace_back(found->second, mf);
  }
  return out;
}

}  // namespace

LabelOffset measure_label_offset(const fs::path& images, const fs::path& masks, const RoughMaskSettings& rough) {
  validate(rough, "label offset: rough");
  std::vector<double> differences, diameters;
  LabelOffset out;
  for (const auto& [image_file, mask_file] : image_mask_pairs(images, masks)) {
    const auto mask = binarize_mask(io::read_image(mask_file).data);
    const auto r = rough_mask(io::read_image(image_file).data, rough).to(mask.device());
    EMGAN_CHECK(IoError, r.sizes() == mask.sizes(), image_file.string(), ": size ", r.sizes(),
                " differs from its mask's ", mask.sizes());
    attributed_diameters(mask, r, differences, diameters, out.particles, out.missed);
  }
  if (differences.empty()) return out;
  out.median_diameter_difference_px = median_of(differences);
  out.median_mask_diameter_px = median_of(diameters);
  const double limit = 0.25 * out.median_mask_diameter_px;
  out.offset_px = std::clamp(0.5 * out.median_diameter_difference_px, -limit, limit);
  return out;
}

ThresholdCalibration calibrate_threshold(Segmenter& segmenter, const fs::path& images, const fs::path& reference) {
  std::vector<torch::Tensor> probs, refs;
  for (const auto& [image_file, mask_file] : image_mask_pairs(images, reference)) {
    refs.push_back(binarize_mask(io::read_image(mask_file).data));
    probs.push_back(segmenter.probability(io::read_image(image_file).data).cpu());
    EMGAN_CHECK(IoError, probs.back().sizes() == refs.back().sizes(), image_file.string(), ": size ",
                probs.back().sizes(), " differs from its mask's ", refs.back().sizes());
  }
  const auto out = calibrate_threshold(probs, refs);
  if (out.particles == 0) {
    log_info(reference.string() +
             ": no threshold could be calibrated (no particle found, or every threshold floods the support); it stays 0.5");
  }
  return out;
}

ThresholdCalibration calibrate_threshold(const std::vector<torch::Tensor>& probs, const std::vector<torch::Tensor>& refs) {
  EMGAN_CHECK(ConfigError, probs.size() == refs.size(), "calibrate_threshold: ", probs.size(), " probability maps for ",
              refs.size(), " reference masks");
  double ref_area = 0;
  for (const auto& r : refs) ref_area += r.sum().item<double>();
  ThresholdCalibration out;
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i <= 12; ++i) {
    const double t = (20 + 5 * i) / 100.0;
    out.thresholds.push_back(t);
    std::vector<double> differences, diameters;
    int64_t particles = 0, missed = 0;
    double area = 0;
    for (size_t j = 0; j < probs.size(); ++j) {
      EMGAN_CHECK(ConfigError, probs[j].sizes() == refs[j].sizes(), "calibrate_threshold: probability ",
                  probs[j].sizes(), " and reference ", refs[j].sizes(), " differ in size");
      const auto m = probs[j] > t;
      area += m.sum().item<double>();
      attributed_diameters(refs[j], m, differences, diameters, particles, missed, 0.25);
    }
    if (differences.empty() || area > 2.0 * ref_area) {
      out.differences.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    const double d = trimmed_mean(differences);
    out.differences.push_back(d);
    // Nearest 0; ties to the threshold nearest 0.5.
    const double score = std::abs(d) + 1e-9 * std::abs(t - 0.5);
    if (score < best) {
      best = score;
      out.threshold = t;
      out.mean_diameter_difference_px = d;
      out.particles = particles;
      out.missed = missed;
    }
  }
  return out;
}

ThresholdCalibration run_calibrate_threshold(const fs::path& model, const fs::path& images, const fs::path& reference,
                                             int64_t tta_views, const RuntimeSettings& runtime) {
  const auto device = apply_runtime(runtime);
  Segmenter seg(model, device);
  seg.set_views(tta_views);
  const auto cal = calibrate_threshold(seg, images, reference);
  Json meta = seg.info().meta.is_object() ? seg.info().meta : Json::object();
  meta["threshold"] = cal.threshold;
  meta["threshold_calibration"] = Json(cal);
  meta["threshold_calibration"]["images"] = images.string();
  meta["threshold_calibration"]["reference"] = reference.string();
  meta["threshold_calibration"]["tta_views"] = tta_views;
  models::save_model(*seg.network(), model, meta);
  return cal;
}

namespace {

/// Single-scale view of a discriminator for the pix2pix recipe.
struct SingleScaleDImpl : torch::nn::Module {
  explicit SingleScaleDImpl(models::DiscriminatorPtr d) : d_(register_module("net", std::move(d))) {}
  torch::Tensor forward(torch::Tensor x) { return d_->forward(std::move(x)).at(0); }
  models::DiscriminatorPtr d_;
};
TORCH_MODULE(SingleScaleD);

// The generator's input: the mask in [-1, 1] (and a noise channel).
torch::Tensor gan_input(const torch::Tensor& mask01, double noise, torch::Generator& gen) {
  auto m = mask01 * 2.0 - 1.0;  // [N, 1, H, W]
  if (noise <= 0) return m;
  return torch::cat({m, torch::randn(m.sizes(), gen).to(m.device()) * noise}, 1);
}

}  // namespace

int64_t run_morphology_gan(const MorphologyGanSettings& s) {
  EMGAN_CHECK(ConfigError, s.epochs >= 1 && s.crop >= 16 && s.batch_size >= 1 && s.crops_per_image >= 1,
              "morphology GAN: epochs ", s.epochs, ", crop ", s.crop, ", batch_size ", s.batch_size,
              ", crops_per_image ", s.crops_per_image, " must be >= 1, 16, 1, 1");
  EMGAN_CHECK(ConfigError, s.noise_channel >= 0, "noise_channel ", s.noise_channel, " must be >= 0");
  const auto device = apply_runtime(s.runtime);
  const fs::path run(s.out);
  ensure_dir(run);
  save_json_file(run / "config.json", Json(s));
  const auto pairs = read_pairs(s.images, s.masks, /*skip_unmatched=*/true);
  int64_t crop = s.crop;
  for (const auto& p : pairs) crop = std::min({crop, p.image.size(0), p.image.size(1)});
  const int64_t in_ch = s.noise_channel > 0 ? 2 : 1;
  auto g = models::make_generator("unet", Json{{"in_channels", in_ch}, {"out_channels", 1}, {"depth", s.depth},
                                              {"ngf", s.ngf}, {"norm", "instance"}, {"dropout", 0.0},
                                              {"output_activation", "tanh"}});
  auto d = models::make_discriminator("patchgan", Json{{"in_channels", in_ch + 1}, {"ndf", s.ndf},
                                                       {"n_layers", crop >= 64 ? 3 : 2}, {"norm", "instance"}});
  g->to(device);
  d->to(device);
  train::OptimizerOptions oo;
  oo.name = "adam";
  oo.lr = s.lr;
  oo.beta1 = 0.5;
  auto opt_g = train::make_optimizer(g->parameters(), oo);
  auto opt_d = train::make_optimizer(d->parameters(), oo);
  train::Pix2PixOptions po;
  po.lambda_rec = s.lambda_rec;
  auto recipe = std::make_shared<train::Pix2PixRecipe>(torch::nn::AnyModule(g), torch::nn::AnyModule(SingleScaleD(d)),
                                                       opt_g, opt_d, train::bce_gan_loss(), train::l1_loss(), po);
  const int64_t n = static_cast<int64_t>(pairs.size());
  const int64_t draws = n * s.crops_per_image;
  const int64_t steps = (draws + s.batch_size - 1) / s.batch_size;
  const uint64_t seed = s.runtime.seed;
  const double noise = s.noise_channel;
  auto source = std::make_shared<train::FunctionBatchSource>(steps, [=](int64_t epoch, int64_t index) {
    const auto perm = data::seeded_permutation(static_cast<size_t>(draws), data::mix_seed(seed, 23, epoch));
    auto gen = data::make_generator(data::mix_seed(seed, epoch, index));
    std::vector<torch::Tensor> bx, by;
    for (int64_t b = 0; b < s.batch_size; ++b) {
      const auto& p = pairs[perm[static_cast<size_t>((index * s.batch_size + b) % draws)] % n];
      const int64_t y0 = data::uniform_int(gen, p.image.size(0) - crop + 1);
      const int64_t x0 = data::uniform_int(gen, p.image.size(1) - crop + 1);
      using torch::indexing::Slice;
      auto x = p.mask.index({Slice(y0, y0 + crop), Slice(x0, x0 + crop)}).to(torch::kFloat32).unsqueeze(0);
      auto y = p.image.index({Slice(y0, y0 + crop), Slice(x0, x0 + crop)}).unsqueeze(0) * 2.0 - 1.0;
      const int64_t rot = data::uniform_int(gen, 4);
      bx.push_back(data::rotate90(x, rot));
      by.push_back(data::rotate90(y, rot));
    }
    train::Batch batch;
    batch.input = gan_input(torch::stack(bx), noise, gen).contiguous();
    batch.target = torch::stack(by).contiguous();
    return batch;
  });
  train::TrainerOptions to;
  to.epochs = s.epochs;
  to.log_every = std::max<int64_t>(1, std::min<int64_t>(steps, 10));
  to.checkpoint_every = steps;
  to.seed = seed;
  train::Trainer trainer(to, recipe, source, device, run);
  trainer.set_config(Json(s));
  trainer.fit();
  g->eval();
  models::save_model(*g, run / "generator.pt",
                     Json{{"task", "morphology_gan"}, {"input", "mask in [-1, 1] (+ noise channel)"},
                          {"output", "image in [-1, 1]"}, {"noise_channel", noise}});
  report::Report rep("Morphology GAN (pix2pix mask -> image)");
  if (fs::exists(run / "metrics.csv")) {
    report::write_learning_curves(run / "metrics.csv", run / "learning_curves.png");
    rep.section("Training").image("learning_curves.png", "losses");
  }
  int64_t generated = 0;
  std::vector<std::vector<torch::Tensor>> rows;
  auto gen = data::make_generator(data::mix_seed(seed, 977));
  auto generate = [&](const torch::Tensor& mask) {
    torch::NoGradGuard guard;
    const auto x = gan_input(mask.to(torch::kFloat32).unsqueeze(0).unsqueeze(0).to(device), noise, gen);
    return ((g->forward(x) + 1.0) * 0.5).clamp(0, 1).squeeze(0).cpu();
  };
  for (size_t i = 0; i < std::min<size_t>(2, pairs.size()); ++i) {
    rows.push_back({pairs[i].mask.to(torch::kFloat32), generate(pairs[i].mask), pairs[i].image});
  }
  if (!s.apply_masks.empty()) {
    ensure_dir(run / "generated");
    const auto files = list_images(s.apply_masks);
    Progress progress("generate", static_cast<int64_t>(files.size()), "img");
    for (const auto& f : files) {
      const auto mask = binarize_mask(io::read_image(f).data);
      const auto img = generate(mask);
      io::write_image(run / "generated" / (f.stem().string() + ".tif"), img);
      if (generated < 2) rows.push_back({mask.to(torch::kFloat32), img, torch::Tensor()});
      progress.update(++generated);
    }
    progress.finish();
  }
  report::write_grid_png(run / "samples.png", rows);
  rep.section("Samples").image("samples.png", "mask | generated | real image (rough-mask pairs first, then random masks)");
  rep.section("Configuration").json(Json(s), "effective settings");
  rep.write(run);
  return generated;
}

fs::path run_pipeline(const PipelineSettings& s) {
  EMGAN_CHECK(ConfigError, !s.images.empty(), "segment pipeline: --images is required");
  EMGAN_CHECK(ConfigError, s.subset >= 0 && s.random_masks >= 1 && s.mask_size >= 16, "segment pipeline: subset ",
              s.subset, " must be >= 0, random_masks ", s.random_masks, " >= 1, mask_size ", s.mask_size, " >= 16");
  s.fit.validate("segment pipeline: fit");
  const fs::path run(s.out);
  ensure_dir(run);
  save_json_file(run / "config.json", Json(s));
  Progress steps("pipeline", 6, "step");

  RoughSettings rough;
  rough.images = s.images;
  rough.out = (run / "rough").string();
  rough.limit = s.subset;
  rough.rough = s.rough;
  rough.runtime = s.runtime;
  log_info("pipeline 1/6: rough masks");
  run_rough(rough);
  steps.update(1);

  log_info("pipeline 2/6: mask statistics and random masks");
  const auto st = run_stats(run / "rough", run / "stats.json", s.split, s.fit);
  log_info("pipeline: " + std::to_string(st.measured) + " rough particles measured, " + std::to_string(st.rejected) +
           " outside the area limits [" + std::to_string(st.min_area_px) + ", " +
           (st.max_area_px > 0 ? std::to_string(st.max_area_px) : std::string("none")) + "] px");
  fs::path gan_masks = run / "rough";
  if (s.clean_rough) {
    gan_masks = run / "rough_clean";
    run_clean_masks(run / "rough", gan_masks, st.min_area_px, /*fill=*/true);
  }
  RandomMasksSettings rm;
  rm.out = (run / "random_masks").string();
  rm.count = s.random_masks;
  rm.masks = settings_from_statistics(st, s.mask_size, s.mask_size);
  rm.seed = s.runtime.seed;
  run_random_masks(rm);
  steps.update(2);

  log_info("pipeline 3/6: morphology GAN (pix2pix rough mask -> image) and 1st generation");
  auto mg = s.morphology;
  mg.images = s.images;
  mg.masks = gan_masks.string();
  mg.apply_masks = rm.out;
  mg.out = (run / "morphology_gan").string();
  mg.runtime = s.runtime;
  run_morphology_gan(mg);
  steps.update(3);

  fs::path train_images = run / "morphology_gan" / "generated";
  if (s.contrast) {
    log_info("pipeline 4/6: contrast GAN (CycleGAN 1st generation <-> real) and 2nd generation");
    auto cg = s.contrast_gan;
    cg.generated = train_images.string();
    cg.real = s.images;
    cg.out = (run / "contrast_gan").string();
    cg.runtime = s.runtime;
    run_contrast_gan(cg);
    train_images = run / "contrast_gan" / "generated";
  } else {
    log_info("pipeline 4/6: contrast GAN switched off; the 1st generation trains the segmenter");
  }
  steps.update(4);

  fs::path labels = rm.out;
  LabelOffset offset;
  if (s.match_labels) {
    offset = measure_label_offset(train_images, rm.out, s.rough);
    save_json_file(run / "label_offset.json", Json(offset));
    labels = run / "labels";
    run_redraw_masks(rm.out, labels, offset.offset_px);
    log_info("pipeline: generated particles are " + std::to_string(offset.median_diameter_difference_px) +
             " px wider than their masks (median of " + std::to_string(offset.particles - offset.missed) + ", " +
             std::to_string(offset.missed) + " missed); labels/ = random masks with semi-axes " +
             (offset.offset_px >= 0 ? "+" : "") + std::to_string(offset.offset_px) + " px");
  }
  log_info("pipeline 5/6: segmenter on (generated image, label mask) pairs");
  auto sg = s.segmenter;
  sg.images = train_images.string();
  sg.masks = labels.string();
  sg.out = (run / "segmenter").string();
  sg.runtime = s.runtime;
  const auto model = run_segment_train(sg);
  steps.update(5);
  ThresholdCalibration calibration;
  if (s.calibrate) {
    log_info("pipeline 6/6: the segmenter's threshold calibrated on the real images against " +
             gan_masks.filename().string() + "/");
    calibration = run_calibrate_threshold(model, s.images, gan_masks, 8, s.runtime);
    save_json_file(run / "threshold_calibration.json", Json(calibration));
    log_info("pipeline: threshold " + std::to_string(calibration.threshold) + " (mean diameter difference " +
             std::to_string(calibration.mean_diameter_difference_px) + " px over " +
             std::to_string(calibration.particles - calibration.missed) + " rough particles)");
  } else {
    log_info("pipeline 6/6: threshold calibration switched off; the segmenter keeps 0.5");
  }
  steps.update(6);
  steps.finish();

  report::Report rep("Label-free segmentation pipeline");
  rep.section("Steps").key_values({{"rough masks", s.clean_rough ? "rough/ (cleaned: rough_clean/)" : "rough/"},
                                   {"mask statistics", Json(st).dump()},
                                   {"random masks", std::to_string(s.random_masks) + " in random_masks/"},
                                   {"morphology GAN", "morphology_gan/index.html"},
                                   {"contrast GAN", s.contrast ? "contrast_gan/index.html" : "not run"},
                                   {"label consistency", s.match_labels ? Json(offset).dump() + " (labels/)" : "off"},
                                   {"threshold calibration", s.calibrate ? Json(calibration).dump() : "off (0.5)"},
                                   {"segmenter", model.string()}});
  rep.section("Configuration").json(Json(s), "effective settings");
  rep.write(run);
  return model;
}

}  // namespace emgan::segment
