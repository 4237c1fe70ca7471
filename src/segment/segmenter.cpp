#include "emgan/segment/segmenter.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "emgan/core/error.h"
#include "emgan/core/progress.h"
#include "emgan/data/augment.h"
#include "emgan/data/sample.h"
#include "emgan/io/image.h"
#include "emgan/metrics/metrics.h"
#include "emgan/models/unetpp.h"
#include "emgan/nn/mirror_views.h"
#include "emgan/report/display.h"
#include "emgan/report/grid.h"
#include "emgan/report/html.h"
#include "emgan/report/metrics_log.h"
#include "emgan/segment/morphology.h"
#include "emgan/segment/particles.h"
#include "emgan/train/optim.h"
#include "emgan/train/trainer.h"

namespace emgan::segment {

torch::Tensor focal_loss(const torch::Tensor& logits, const torch::Tensor& target, double alpha, double gamma) {
  const auto t = target.to(logits.dtype());
  const auto logp = torch::nn::functional::logsigmoid(logits);
  const auto log1mp = torch::nn::functional::logsigmoid(-logits);
  const auto logpt = t * logp + (1 - t) * log1mp;
  const auto pt = torch::exp(logpt);
  const auto at = t * alpha + (1 - t) * (1 - alpha);
  return (-at * torch::pow(1 - pt, gamma) * logpt).mean();
}

torch::Tensor jaccard_loss(const torch::Tensor& logits, const torch::Tensor& target) {
  const auto p = torch::sigmoid(logits);
  const auto t = target.to(p.dtype());
  const auto inter = (p * t).sum();
  const auto uni = p.sum() + t.sum() - inter;
  return 1 - (inter + 1.0) / (uni + 1.0);
}

std::vector<fs::path> list_images(const fs::path& path) {
  EMGAN_CHECK(IoError, fs::exists(path), path.string(), ": no such file or folder");
  if (!fs::is_directory(path)) return {path};
  const auto ok = io::readable_extensions();
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(path)) {
    if (!e.is_regular_file()) continue;
    if (std::find(ok.begin(), ok.end(), lower_extension(e.path())) != ok.end()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<LabelledImage> read_pairs(const fs::path& images, const fs::path& masks, bool skip_unmatched) {
  const auto image_files = list_images(images);
  EMGAN_CHECK(IoError, !image_files.empty(), images.string(), ": no readable image");
  std::map<std::string, fs::path> mask_files;
  for (const auto& m : list_images(masks)) mask_files[m.stem().string()] = m;
  std::vector<LabelledImage> out;
  for (const auto& f : image_files) {
    const auto stem = f.stem().string();
    const auto it = mask_files.find(stem);
    if (skip_unmatched && it == mask_files.end()) continue;
    EMGAN_CHECK(IoError, it != mask_files.end(), masks.string(), ": no mask for image ", f.string(),
                " (expected a file named ", stem, ".<ext>)");
    LabelledImage li;
    li.name = stem;
    li.image = normalize_image(io::read_image(f).data);
    bool binary = true;
    li.mask = binarize_mask(io::read_image(it->second).data, &binary);
    if (!binary) log_info(it->second.string() + ": mask is not binary; thresholded at half its maximum");
    EMGAN_CHECK(ConfigError, li.mask.sizes() == li.image.sizes(), it->second.string(), ": mask size ",
                li.mask.sizes(), " differs from image ", f.string(), " size ", li.image.sizes());
    out.push_back(std::move(li));
  }
  EMGAN_CHECK(IoError, !out.empty(), images.string(), ": no image has a mask in ", masks.string());
  return out;
}

void validate(const SegmentTrainSettings& s) {
  EMGAN_CHECK(ConfigError, s.epochs >= 1, "epochs ", s.epochs, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.batch_size >= 1, "batch_size ", s.batch_size, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.crop >= 8, "crop ", s.crop, " must be >= 8 px");
  EMGAN_CHECK(ConfigError, s.crops_per_image >= 1, "crops_per_image ", s.crops_per_image, " must be >= 1");
  EMGAN_CHECK(ConfigError, s.lr > 0 && s.weight_decay >= 0, "lr ", s.lr, " must be > 0 and weight_decay ",
              s.weight_decay, " >= 0");
  EMGAN_CHECK(ConfigError, s.step_size >= 1 && s.gamma > 0 && s.gamma <= 1, "step_size ", s.step_size,
              " must be >= 1 and gamma ", s.gamma, " in (0, 1]");
  EMGAN_CHECK(ConfigError, s.focal_alpha >= 0 && s.focal_alpha <= 1, "focal_alpha ", s.focal_alpha,
              " must be in [0, 1]");
  for (double p : {s.p_flip, s.p_shift_scale_rotate, s.p_noise}) {
    EMGAN_CHECK(ConfigError, p >= 0 && p <= 1, "augmentation probability ", p, " must be in [0, 1]");
  }
  EMGAN_CHECK(ConfigError, s.val_fraction >= 0 && s.val_fraction < 1, "val_fraction ", s.val_fraction,
              " must be in [0, 1)");
  EMGAN_CHECK(ConfigError, s.model.is_object(), "model: expected a JSON object of UNet++ options, got ",
              s.model.dump());
}

namespace {

using UNetPP = std::shared_ptr<models::UNetPlusPlusImpl>;

class SegmentRecipe : public train::Recipe {
 public:
  SegmentRecipe(UNetPP net, train::OptimizerPtr opt, const SegmentTrainSettings& s)
      : net_(std::move(net)), opt_(std::move(opt)), alpha_(s.focal_alpha), gamma_(s.focal_gamma),
        jw_(s.jaccard_weight) {}

  train::StepResult step(const train::Batch& batch) override {
    opt_->zero_grad();
    const auto heads = net_->forward_heads(batch.input);
    torch::Tensor focal = torch::zeros({}, batch.input.options());
    torch::Tensor jac = torch::zeros({}, batch.input.options());
    for (const auto& h : heads) {
      focal = focal + focal_loss(h, batch.target, alpha_, gamma_);
      jac = jac + jaccard_loss(h, batch.target);
    }
    const double n = static_cast<double>(heads.size());
    focal = focal / n;
    jac = jac / n;
    const auto loss = focal + jw_ * jac;
    loss.backward();
    opt_->step();
    return {{{"loss", loss.item<double>()}, {"focal", focal.item<double>()}, {"jaccard", jac.item<double>()}}};
  }
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules() const override { return {{"G", net_}}; }
  std::map<std::string, train::OptimizerPtr> optimizers() const override { return {{"G", opt_}}; }

 private:
  UNetPP net_;
  train::OptimizerPtr opt_;
  double alpha_, gamma_, jw_;
};

torch::Tensor predict_probability(models::ImageToImage& net, const torch::Tensor& image01,
                                  const torch::Device& device) {
  torch::NoGradGuard guard;
  const auto x = image01.to(device).to(torch::kFloat32).unsqueeze(0).unsqueeze(0);
  return torch::sigmoid(net.forward(x)).squeeze(0).squeeze(0);
}

}  // namespace

fs::path train_segmenter(const SegmentTrainSettings& s, const std::vector<LabelledImage>& all) {
  validate(s);
  EMGAN_CHECK(ConfigError, !all.empty(), "segment train: no training pair");
  models::register_unetpp();
  const auto device = apply_runtime(s.runtime);
  const fs::path run(s.out);
  ensure_dir(run);
  save_json_file(run / "config.json", Json(s));

  // Hold out a seeded fraction of the images for validation.
  std::vector<LabelledImage> train_set, val_set;
  const auto order = data::seeded_permutation(all.size(), data::mix_seed(s.runtime.seed, 101));
  const auto n_val = static_cast<size_t>(std::floor(s.val_fraction * static_cast<double>(all.size())));
  for (size_t i = 0; i < all.size(); ++i) (i < n_val ? val_set : train_set).push_back(all[order[i]]);
  if (train_set.empty()) train_set = val_set;

  int64_t crop = s.crop;
  for (const auto& p : train_set) crop = std::min({crop, p.image.size(0), p.image.size(1)});
  if (crop < s.crop) log_info("segment train: crop reduced to " + std::to_string(crop) + " px (smallest image)");

  Json mo = s.model;
  mo["in_channels"] = 1;
  mo["classes"] = 1;
  auto net = std::dynamic_pointer_cast<models::UNetPlusPlusImpl>(models::make_generator("unetpp", mo));
  net->to(device);
  train::OptimizerOptions oo;
  oo.name = "adamw";
  oo.lr = s.lr;
  oo.beta1 = 0.9;
  oo.weight_decay = s.weight_decay;
  auto opt = train::make_optimizer(net->parameters(), oo);
  auto recipe = std::make_shared<SegmentRecipe>(net, opt, s);

  const int64_t n = static_cast<int64_t>(train_set.size());
  const int64_t draws = n * s.crops_per_image;
  const int64_t steps = (draws + s.batch_size - 1) / s.batch_size;
  const uint64_t seed = s.runtime.seed;
  auto source = std::make_shared<train::FunctionBatchSource>(steps, [=](int64_t epoch, int64_t index) {
    const auto perm = data::seeded_permutation(static_cast<size_t>(draws), data::mix_seed(seed, 17, epoch));
    auto gen = data::make_generator(data::mix_seed(seed, epoch, index));
    std::vector<torch::Tensor> bx, by;
    for (int64_t b = 0; b < s.batch_size; ++b) {
      const auto& p = train_set[perm[static_cast<size_t>((index * s.batch_size + b) % draws)] % n];
      const int64_t y0 = data::uniform_int(gen, p.image.size(0) - crop + 1);
      const int64_t x0 = data::uniform_int(gen, p.image.size(1) - crop + 1);
      using torch::indexing::Slice;
      auto x = p.image.index({Slice(y0, y0 + crop), Slice(x0, x0 + crop)}).unsqueeze(0);
      auto y = p.mask.index({Slice(y0, y0 + crop), Slice(x0, x0 + crop)}).to(torch::kFloat32).unsqueeze(0);
      if (data::uniform(gen) < s.p_flip) {
        const int64_t rot = data::uniform_int(gen, 4);
        x = data::rotate90(x, rot);
        y = data::rotate90(y, rot);
        if (data::uniform(gen) < 0.5) {
          x = x.flip({-1});
          y = y.flip({-1});
        }
      }
      if (data::uniform(gen) < s.p_shift_scale_rotate) {
        const double angle = -45 + 90 * data::uniform(gen);
        const double scale = 0.9 + 0.2 * data::uniform(gen);
        const double sx = -0.0625 + 0.125 * data::uniform(gen), sy = -0.0625 + 0.125 * data::uniform(gen);
        x = data::affine_warp(x, angle, scale, sx, sy, "bilinear", "reflection");
        y = data::affine_warp(y, angle, scale, sx, sy, "nearest", "reflection");
      }
      if (data::uniform(gen) < s.p_noise) x = data::gaussian_noise(x, s.noise_sigma, gen);
      bx.push_back(x);
      by.push_back(y);
    }
    train::Batch batch;
    batch.input = torch::stack(bx).contiguous();
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
  train::ScheduleOptions so;
  so.name = "step";
  so.unit = "epoch";
  so.step_size = s.step_size;
  so.gamma = s.gamma;
  trainer.add_scheduler("G", std::make_shared<train::LrScheduler>(opt, so));
  if (!val_set.empty()) {
    trainer.add_epoch_callback([net, val_set, device](train::Trainer&, int64_t) {
      net->eval();
      std::vector<torch::Tensor> pred, truth;
      for (const auto& v : val_set) {
        pred.push_back((predict_probability(*net, v.image, device) > 0.5).cpu());
        truth.push_back(v.mask.cpu());
      }
      const auto sc = score_masks(pred, truth);
      return std::map<std::string, double>{{"val_mean_iou", sc.mean_iou}, {"val_dice", sc.dice_particle},
                                           {"val_pixel_accuracy", sc.pixel_accuracy}};
    });
  }
  if (s.resume && fs::exists(trainer.last_checkpoint())) {
    log_info("resuming from " + trainer.last_checkpoint().string());
    trainer.resume(trainer.last_checkpoint());
  }
  trainer.fit();
  net->eval();
  const auto model_file = run / "model.pt";
  models::save_model(*net, model_file,
                     Json{{"task", "segment"}, {"normalization", "percentile 0.5 / 99.5 -> [0, 1]"},
                          {"threshold", 0.5}, {"epochs", s.epochs}});

  // Report: learning curves and predictions on a few images.
  report::Report rep("Particle segmenter");
  rep.section("Run").key_values({{"training images", std::to_string(train_set.size())},
                                 {"validation images", std::to_string(val_set.size())},
                                 {"crop", std::to_string(crop) + " px"},
                                 {"model", Json(net->options).dump()}});
  if (fs::exists(run / "metrics.csv")) {
    report::write_learning_curves(run / "metrics.csv", run / "learning_curves.png");
    rep.image("learning_curves.png", "losses per step");
  }
  std::vector<std::vector<torch::Tensor>> rows;
  const auto& shown = val_set.empty() ? train_set : val_set;
  for (size_t i = 0; i < std::min<size_t>(3, shown.size()); ++i) {
    const auto prob = predict_probability(*net, shown[i].image, device).cpu();
    rows.push_back({shown[i].image, prob, shown[i].mask.to(torch::kFloat32)});
  }
  report::write_grid_png(run / "predictions.png", rows);
  rep.section("Predictions").image("predictions.png", "image | particle probability | mask",
                                   0);
  rep.section("Configuration").json(Json(s), "effective settings");
  rep.write(run);
  return model_file;
}

fs::path run_segment_train(const SegmentTrainSettings& s) {
  validate(s);
  EMGAN_CHECK(ConfigError, !s.images.empty() && !s.masks.empty(), "segment train: --images and --masks are required");
  return train_segmenter(s, read_pairs(s.images, s.masks));
}

Segmenter::Segmenter(const fs::path& model_file, const torch::Device& device) : device_(device) {
  models::register_unetpp();
  net_ = models::load_generator(model_file, device, &info_);
  EMGAN_CHECK(ConfigError, info_.arch == "unetpp", model_file.string(), ": holds a '", info_.arch,
              "' network, expected a segmenter (unetpp)");
  if (info_.meta.is_object() && info_.meta.contains("threshold") && info_.meta.at("threshold").is_number()) {
    threshold_ = info_.meta.at("threshold").get<double>();
    EMGAN_CHECK(IoError, threshold_ > 0 && threshold_ < 1, model_file.string(), ": threshold ", threshold_,
                " in its meta, expected a probability in (0, 1)");
  }
  net_->eval();
}

void Segmenter::set_views(int64_t views) {
  nn::check_mirror_views(views, "segmenter: test-time views");
  views_ = views;
}

torch::Tensor Segmenter::probability(const torch::Tensor& image) {
  return nn::average_mirror_views(normalize_image(image), views_,
                                  [&](const torch::Tensor& v) { return predict_probability(*net_, v, device_); });
}

torch::Tensor Segmenter::predict(const torch::Tensor& image, double threshold) {
  return probability(image) > (threshold > 0 ? threshold : threshold_);
}

void write_mask_png(const fs::path& path, const torch::Tensor& mask) {
  io::WriteOptions o;
  o.dtype = "uint8";
  io::write_image(path, (mask.to(torch::kFloat32) * 255).unsqueeze(0).cpu(), o);
}

int64_t run_segment_predict(const SegmentPredictSettings& s) {
  EMGAN_CHECK(ConfigError, !s.model.empty() && !s.input.empty(), "segment predict: --model and --input are required");
  EMGAN_CHECK(ConfigError, s.threshold >= 0 && s.threshold < 1, "threshold ", s.threshold,
              " must be in (0, 1), or 0 for the model's own");
  const auto device = apply_runtime(s.runtime);
  Segmenter seg(s.model, device);
  seg.set_views(s.tta_views);
  ensure_dir(s.output);
  const auto files = list_images(s.input);
  Progress progress("predict", static_cast<int64_t>(files.size()), "img");
  int64_t done = 0;
  for (const auto& f : files) {
    const auto mask = seg.predict(io::read_image(f).data, s.threshold);
    write_mask_png(fs::path(s.output) / (f.stem().string() + ".png"), mask);
    progress.update(++done);
  }
  progress.finish();
  return done;
}

SegmentationScores score_masks(const std::vector<torch::Tensor>& predicted, const std::vector<torch::Tensor>& truth) {
  EMGAN_CHECK(ConfigError, predicted.size() == truth.size() && !truth.empty(), "score_masks: ", predicted.size(),
              " predictions for ", truth.size(), " truths (need the same non-zero count)");
  torch::Tensor cm;
  ParticleMatch match;
  for (size_t i = 0; i < truth.size(); ++i) {
    EMGAN_CHECK(ConfigError, predicted[i].sizes() == truth[i].sizes(), "score_masks: image ", i, " prediction ",
                predicted[i].sizes(), " vs truth ", truth[i].sizes());
    const auto c = metrics::confusion_matrix(predicted[i].to(torch::kLong), truth[i].to(torch::kLong).to(predicted[i].device()), 2).cpu();
    cm = cm.defined() ? cm + c : c;
    match_particles(truth[i], predicted[i].to(truth[i].device()), match, 0.25);
  }
  SegmentationScores sc;
  sc.images = static_cast<int64_t>(truth.size());
  const auto iou = metrics::per_class_iou(cm);
  const auto dice = metrics::per_class_dice(cm);
  sc.pixel_accuracy = (cm[0][0] + cm[1][1]).item<double>() / cm.sum().item<double>();
  sc.iou_background = iou[0].item<double>();
  sc.iou_particle = iou[1].item<double>();
  sc.mean_iou = metrics::mean_iou(cm);
  sc.dice_particle = dice[1].item<double>();
  sc.particles = match.particles;
  sc.particles_found = match.particles - match.missed;
  std::vector<double> ratios;
  for (size_t i = 0; i < match.test_diameters.size(); ++i) {
    ratios.push_back(match.test_diameters[i] / match.reference_diameters[i]);
  }
  sc.diameter_ratio = median_of(ratios);
  return sc;
}

SegmentationScores score_mask_folders(const fs::path& predicted, const fs::path& truth) {
  std::map<std::string, fs::path> pred_files;
  for (const auto& f : list_images(predicted)) pred_files[f.stem().string()] = f;
  std::vector<torch::Tensor> p, t;
  for (const auto& f : list_images(truth)) {
    const auto it = pred_files.find(f.stem().string());
    EMGAN_CHECK(IoError, it != pred_files.end(), predicted.string(), ": no predicted mask for ", f.string());
    p.push_back(binarize_mask(io::read_image(it->second).data));
    t.push_back(binarize_mask(io::read_image(f).data));
  }
  return score_masks(p, t);
}

}  // namespace emgan::segment
