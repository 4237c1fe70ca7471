// `emgan phantom particles` and `emgan segment rough|stats|masks|morphology|contrast|distance|train|predict|evaluate|analyze|pipeline`.
// GCC 12 reports a false -Wmaybe-uninitialized inside nlohmann's defaulted from_json for
// nested settings structs (AnalyzeSettings.rough); see tests/core/test_config.cpp.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <iostream>

#include "cli.h"
#include "emgan/core/progress.h"
#include "emgan/io/image.h"
#include "emgan/segment/analysis.h"
#include "emgan/segment/feature_distance.h"
#include "emgan/segment/phantom.h"
#include "emgan/segment/pipeline.h"
#include "emgan/segment/segmenter.h"
#include "emgan/segment/watch.h"

namespace emgan::cli {

namespace {

constexpr const char* kViewsHelp =
    "test-time averaged mirror views of the segmenter: 1 (none), 2, 4 or 8 (flips of the image and its transpose)";

void add_rough_options(CLI::App* sub, segment::RoughMaskSettings& r) {
  sub->add_option("--method", r.method, "rough segmentation: otsu | local")->capture_default_str();
  sub->add_option("--smooth-sigma", r.smooth_sigma, "smoothing before thresholding, px")->capture_default_str();
  sub->add_option("--background-sigma", r.background_sigma, "background flattening sigma, px (0 = none)")
      ->capture_default_str();
  sub->add_option("--local-sigma", r.local_sigma, "local method: window sigma, px")->capture_default_str();
  sub->add_option("--local-offset", r.local_offset, "local method: threshold = mean + offset * std")
      ->capture_default_str();
  sub->add_flag("--dark-particles,!--bright-particles", r.dark_particles,
                "particles darker than the support (bright-field TEM)");
  sub->add_option("--open-radius", r.open_radius, "opening radius, px")->capture_default_str();
  sub->add_option("--close-radius", r.close_radius, "closing radius, px")->capture_default_str();
  sub->add_option("--min-area", r.min_area, "smallest particle kept, px")->capture_default_str();
}

void add_split_options(CLI::App* sub, segment::WatershedSettings& w) {
  sub->add_option("--split-h", w.h, "watershed: minimum dynamic of a distance maximum, px")->capture_default_str();
  sub->add_flag("--split,!--no-split", w.split, "split touching particles (distance transform + watershed)");
  sub->add_option("--min-particle-area", w.min_area, "particles smaller than this are dropped, px")
      ->capture_default_str();
}

void add_fit_options(CLI::App* sub, segment::MaskFitSettings& f) {
  sub->add_option("--min-area-ratio", f.min_area_ratio,
                  "statistics: drop particles below this fraction of the median area (specks; 0 = off)")
      ->capture_default_str();
  sub->add_option("--max-area-ratio", f.max_area_ratio,
                  "statistics: drop particles above this multiple of the median area (merged patches; 0 = off)")
      ->capture_default_str();
  sub->add_option("--stats-min-area", f.min_area_px, "statistics: absolute minimum particle area, px (0 = none)")
      ->capture_default_str();
}

// UNet++ options as flags; each given flag overrides the key of `model`.
struct ModelFlags {
  std::string encoder, decoder;
  int64_t width = 0, depth = 0;
  bool deep_supervision = false;
  void add(CLI::App* sub) {
    sub->add_option("--encoder", encoder, "resnet34 | resnet18 | plain");
    sub->add_option("--decoder", decoder, "nested (UNet++) | unet (plain U-Net)");
    sub->add_option("--width", width, "channels of the first encoder stage (ResNet: 64)");
    sub->add_option("--depth", depth, "stride-2 levels, 1..5");
    sub->add_flag("--deep-supervision", deep_supervision, "one head per nested top node (UNet++ only)");
  }
  void apply(CLI::App* sub, Json& model) const {
    if (sub->count("--encoder")) model["encoder"] = encoder;
    if (sub->count("--decoder")) model["decoder"] = decoder;
    if (sub->count("--width")) model["width"] = width;
    if (sub->count("--depth")) model["depth"] = depth;
    if (sub->count("--deep-supervision")) model["deep_supervision"] = deep_supervision;
  }
};

void add_train_options(CLI::App* sub, segment::SegmentTrainSettings& s) {
  sub->add_option("--epochs", s.epochs, "passes over the training images")->capture_default_str();
  sub->add_option("--batch-size", s.batch_size, "crops per step")->capture_default_str();
  sub->add_option("--crop", s.crop, "side of the training crops, px")->capture_default_str();
  sub->add_option("--crops-per-image", s.crops_per_image, "crops per image per epoch")->capture_default_str();
  sub->add_option("--lr", s.lr, "AdamW learning rate")->capture_default_str();
  sub->add_option("--weight-decay", s.weight_decay, "AdamW weight decay")->capture_default_str();
  sub->add_option("--step-size", s.step_size, "epochs between learning-rate decays")->capture_default_str();
  sub->add_option("--gamma", s.gamma, "learning-rate decay factor")->capture_default_str();
  sub->add_option("--val-fraction", s.val_fraction, "images held out for validation scores")->capture_default_str();
}

}  // namespace

void register_phantom(CLI::App& root, const Context& ctx) {
  auto* ph = root.add_subcommand("phantom", "Synthetic images with known truth");
  ph->require_subcommand(1);
  static segment::PhantomSettings s;
  static std::string out = "phantoms";
  static RuntimeSettings runtime;
  static std::string preset;
  load_config(ctx, "phantom particles", s);
  auto* sub = ph->add_subcommand("particles",
                                 "HAADF-like images of supported nanoparticles with exact masks and known sizes");
  sub->add_option("--out", out, "output folder (images/, masks/, labels/, particles.csv)")->capture_default_str();
  sub->add_option("--preset", preset,
                  "default | hard (lower dose, smaller and fainter particles, rough support; replaces the "
                  "config file's physics keys, the flags below still override it)");
  sub->add_option("--count", s.count, "images")->capture_default_str();
  sub->add_option("--size", s.size, "image side, px")->capture_default_str();
  sub->add_option("--particles", s.particles_per_512, "mean particles per 512 x 512 px")->capture_default_str();
  sub->add_option("--diameter", s.mean_diameter, "mean particle diameter, px")->capture_default_str();
  sub->add_option("--size-variability", s.size_variability, "diameters uniform in mean * [1 -+ v]")
      ->capture_default_str();
  sub->add_option("--dose", s.dose, "electrons per pixel at full scale (<= 0: no shot noise)")->capture_default_str();
  sub->add_option("--contrast", s.particle_contrast, "mean particle contrast over the support")
      ->capture_default_str();
  sub->add_option("--jitter", s.jitter_px, "scan-line jitter (std), px")->capture_default_str();
  sub->add_option("--pixel-size", s.pixel_size_nm, "pixel size written into the files, nm (0 = none)")
      ->capture_default_str();
  sub->add_option("--seed", s.seed, "seed of every random draw")->capture_default_str();
  sub->add_option("--device", runtime.device, "auto | cpu | cuda | cuda:N")->capture_default_str();
  sub->add_option("--threads", runtime.threads, "CPU threads (0 = one per core)")->capture_default_str();
  add_config_option(sub);
  sub->callback([sub] {
    if (!preset.empty()) {
      auto p = segment::phantom_preset(preset);
      p.count = s.count;
      p.size = s.size;
      p.seed = s.seed;
      p.pixel_size_nm = s.pixel_size_nm;
      p.jitter_px = s.jitter_px;
      if (sub->count("--particles")) p.particles_per_512 = s.particles_per_512;
      if (sub->count("--diameter")) p.mean_diameter = s.mean_diameter;
      if (sub->count("--size-variability")) p.size_variability = s.size_variability;
      if (sub->count("--dose")) p.dose = s.dose;
      if (sub->count("--contrast")) p.particle_contrast = s.particle_contrast;
      s = p;
    }
    const auto device = apply_runtime(runtime);
    const auto n = segment::write_phantoms(s, out, device);
    std::cout << "wrote " << s.count << " phantom(s) with " << n << " particles into " << out << std::endl;
  });
}

void register_segment(CLI::App& root, const Context& ctx) {
  auto* sg = root.add_subcommand("segment", "Label-free nanoparticle segmentation and particle size distributions");
  sg->require_subcommand(1);

  static segment::RoughSettings rough;
  load_config(ctx, "segment rough", rough);
  auto* rough_cmd = sg->add_subcommand("rough", "step 1: rough masks by threshold + morphology");
  rough_cmd->add_option("--images", rough.images, "image file or folder")->required();
  rough_cmd->add_option("--out", rough.out, "folder of the masks")->capture_default_str();
  rough_cmd->add_option("--limit", rough.limit, "first N images only (0 = all)")->capture_default_str();
  add_rough_options(rough_cmd, rough.rough);
  add_config_option(rough_cmd);
  add_runtime_options(rough_cmd, rough.runtime);
  rough_cmd->callback([] {
    const auto n = segment::run_rough(rough);
    std::cout << "wrote " << n << " rough mask(s) into " << rough.out << std::endl;
  });

  static std::string stats_masks, stats_out = "stats.json", stats_clean;
  static segment::WatershedSettings stats_split;
  static segment::MaskFitSettings stats_fit;
  auto* stats_cmd = sg->add_subcommand("stats", "step 2a: size, ellipticity and count-per-area statistics of masks");
  stats_cmd->add_option("--masks", stats_masks, "folder of masks")->required();
  stats_cmd->add_option("--out", stats_out, "statistics JSON")->capture_default_str();
  stats_cmd->add_option("--clean", stats_clean,
                        "also write the masks without components below the fitted minimum area (holes filled) here");
  add_split_options(stats_cmd, stats_split);
  add_fit_options(stats_cmd, stats_fit);
  stats_cmd->callback([] {
    const auto st = segment::run_stats(stats_masks, stats_out, stats_split, stats_fit);
    if (!stats_clean.empty()) segment::run_clean_masks(stats_masks, stats_clean, st.min_area_px);
    std::cout << Json(st).dump() << std::endl;
  });

  static std::string cal_model, cal_images, cal_masks;
  static int64_t cal_views = 8;
  static RuntimeSettings cal_runtime;
  auto* cal_cmd = sg->add_subcommand(
      "calibrate", "set a segmenter's probability threshold so its particles have the sizes of reference masks");
  cal_cmd->add_option("--model", cal_model, "segmenter model.pt (its meta threshold is rewritten)")->required();
  cal_cmd->add_option("--images", cal_images, "folder of images")->required();
  cal_cmd->add_option("--masks", cal_masks, "folder of reference masks (same stems), e.g. cleaned rough masks")
      ->required();
  cal_cmd->add_option("--tta-views", cal_views, kViewsHelp)->capture_default_str();
  add_runtime_options(cal_cmd, cal_runtime);
  cal_cmd->callback([] {
    const auto cal = segment::run_calibrate_threshold(cal_model, cal_images, cal_masks, cal_views, cal_runtime);
    std::cout << Json(cal).dump() << std::endl;
  });

  static segment::RandomMasksSettings masks;
  load_config(ctx, "segment masks", masks);
  auto* masks_cmd = sg->add_subcommand("masks", "step 2b: random masks of non-overlapping rotated ellipses");
  masks_cmd->add_option("--stats", masks.stats, "statistics JSON of `segment stats` (else the laws below)");
  masks_cmd->add_option("--out", masks.out, "folder of the masks")->capture_default_str();
  masks_cmd->add_option("--count", masks.count, "masks to draw")->capture_default_str();
  masks_cmd->add_option("--size", masks.masks.height, "mask side, px")->capture_default_str();
  masks_cmd->add_option("--diameter", masks.masks.mean_diameter, "mean diameter, px")->capture_default_str();
  masks_cmd->add_option("--size-variability", masks.masks.size_variability, "diameters uniform in mean * [1 -+ v]")
      ->capture_default_str();
  masks_cmd->add_option("--min-diameter", masks.masks.min_diameter, "draw no diameter below this, px (0 = no limit)")
      ->capture_default_str();
  masks_cmd->add_option("--max-diameter", masks.masks.max_diameter, "draw no diameter above this, px (0 = no limit)")
      ->capture_default_str();
  masks_cmd->add_option("--particles", masks.masks.particles_per_512, "mean count per 512 x 512 px")
      ->capture_default_str();
  masks_cmd->add_option("--min-gap", masks.masks.min_gap, "smallest gap between ellipses, px")->capture_default_str();
  masks_cmd->add_option("--seed", masks.seed, "seed of the draws")->capture_default_str();
  add_config_option(masks_cmd);
  masks_cmd->callback([] {
    masks.masks.width = masks.masks.height;
    const auto n = segment::run_random_masks(masks);
    std::cout << "wrote " << masks.count << " mask(s) with " << n << " particles into " << masks.out << std::endl;
  });

  static segment::MorphologyGanSettings morph;
  load_config(ctx, "segment morphology", morph);
  auto* morph_cmd = sg->add_subcommand("morphology", "step 3: pix2pix mask -> image, applied to random masks");
  morph_cmd->add_option("--images", morph.images, "real images")->required();
  morph_cmd->add_option("--masks", morph.masks, "their (rough) masks")->required();
  morph_cmd->add_option("--apply", morph.apply_masks, "masks to turn into images (random masks)");
  morph_cmd->add_option("--out", morph.out, "run folder")->capture_default_str();
  morph_cmd->add_option("--epochs", morph.epochs, "passes over the pairs")->capture_default_str();
  morph_cmd->add_option("--crop", morph.crop, "training crop side, px")->capture_default_str();
  morph_cmd->add_option("--ngf", morph.ngf, "generator width")->capture_default_str();
  add_config_option(morph_cmd);
  add_runtime_options(morph_cmd, morph.runtime);
  morph_cmd->callback([] {
    const auto n = segment::run_morphology_gan(morph);
    std::cout << "trained " << morph.out << "/generator.pt; generated " << n << " image(s)" << std::endl;
  });

  static segment::ContrastGanSettings contrast;
  load_config(ctx, "segment contrast", contrast);
  auto* contrast_cmd = sg->add_subcommand("contrast", "step 4: CycleGAN 1st generation -> real contrast and noise");
  contrast_cmd->add_option("--generated", contrast.generated, "1st-generation images (domain A)")->required();
  contrast_cmd->add_option("--real", contrast.real, "real images (domain B)")->required();
  contrast_cmd->add_option("--out", contrast.out, "run folder")->capture_default_str();
  contrast_cmd->add_option("--epochs", contrast.epochs, "epochs (half constant lr, half linear decay)")
      ->capture_default_str();
  contrast_cmd->add_option("--steps-per-epoch", contrast.steps_per_epoch, "steps per epoch")->capture_default_str();
  contrast_cmd->add_option("--crop", contrast.crop, "crop side, px")->capture_default_str();
  contrast_cmd->add_option("--ngf", contrast.ngf, "generator width")->capture_default_str();
  contrast_cmd->add_option("--n-blocks", contrast.n_blocks, "residual blocks")->capture_default_str();
  add_config_option(contrast_cmd);
  add_runtime_options(contrast_cmd, contrast.runtime);
  contrast_cmd->callback([] {
    const auto n = segment::run_contrast_gan(contrast);
    std::cout << "trained " << contrast.out << "/g_ab.pt; wrote " << n << " 2nd-generation image(s)" << std::endl;
  });

  static std::string dist_real, dist_gen, dist_features, dist_out;
  static RuntimeSettings dist_runtime;
  auto* dist_cmd = sg->add_subcommand("distance", "Frechet and kernel (KID) distances between two image sets");
  dist_cmd->add_option("--real", dist_real, "folder of real images")->required();
  dist_cmd->add_option("--generated", dist_gen, "folder of generated images")->required();
  dist_cmd->add_option("--features", dist_features,
                       "feature network: TorchScript file or segmenter model.pt (default: built-in emgan-randconv-v1)");
  dist_cmd->add_option("--out", dist_out, "also write the result to this JSON file");
  add_runtime_options(dist_cmd, dist_runtime);
  dist_cmd->callback([] {
    const auto device = apply_runtime(dist_runtime);
    auto read = [](const std::string& dir) {
      std::vector<torch::Tensor> v;
      for (const auto& f : segment::list_images(dir)) v.push_back(segment::normalize_image(io::read_image(f).data));
      return v;
    };
    auto fx = segment::make_feature_extractor(dist_features, device);
    const auto r = segment::image_set_distance(read(dist_real), read(dist_gen), *fx);
    if (!dist_out.empty()) save_json_file(dist_out, Json(r));
    std::cout << "frechet=" << r.frechet << " kernel=" << r.kernel << " real=" << r.real
              << " generated=" << r.generated << " features=\"" << r.feature_network << "\"" << std::endl;
  });

  static segment::SegmentTrainSettings train;
  static ModelFlags train_model;
  load_config(ctx, "segment train", train);
  auto* train_cmd = sg->add_subcommand("train", "train the UNet++ segmenter on (image, mask) pairs");
  train_cmd->add_option("--images", train.images, "folder of images")->required();
  train_cmd->add_option("--masks", train.masks, "folder of masks (same stems)")->required();
  train_cmd->add_option("--out", train.out, "run folder")->capture_default_str();
  train_model.add(train_cmd);
  add_train_options(train_cmd, train);
  train_cmd->add_flag("--resume,!--no-resume", train.resume, "continue from RUN/checkpoints/last.pt");
  add_config_option(train_cmd);
  add_runtime_options(train_cmd, train.runtime);
  train_cmd->callback([train_cmd] {
    train_model.apply(train_cmd, train.model);
    const auto model = segment::run_segment_train(train);
    std::cout << "model: " << model.string() << std::endl;
  });

  static segment::SegmentPredictSettings pred;
  load_config(ctx, "segment predict", pred);
  auto* pred_cmd = sg->add_subcommand("predict", "segment images with a trained model (PNG masks)");
  pred_cmd->add_option("--model", pred.model, "model.pt of `segment train`")->required();
  pred_cmd->add_option("--input", pred.input, "image file or folder")->required();
  pred_cmd->add_option("--output", pred.output, "folder of the masks")->capture_default_str();
  pred_cmd->add_option("--threshold", pred.threshold, "probability threshold (0 = the model's own)")
      ->capture_default_str();
  pred_cmd->add_option("--tta-views", pred.tta_views, kViewsHelp)->capture_default_str();
  add_config_option(pred_cmd);
  add_runtime_options(pred_cmd, pred.runtime);
  pred_cmd->callback([] {
    const auto n = segment::run_segment_predict(pred);
    std::cout << "predicted " << n << " mask(s) into " << pred.output << std::endl;
  });

  static std::string eval_pred, eval_truth, eval_out;
  auto* eval_cmd = sg->add_subcommand("evaluate", "pixel accuracy, per-class IoU, mean IoU, Dice of masks vs truth");
  eval_cmd->add_option("--pred", eval_pred, "folder of predicted masks")->required();
  eval_cmd->add_option("--truth", eval_truth, "folder of true masks (same stems)")->required();
  eval_cmd->add_option("--out", eval_out, "also write the scores to this JSON file");
  eval_cmd->callback([] {
    const auto sc = segment::score_mask_folders(eval_pred, eval_truth);
    if (!eval_out.empty()) save_json_file(eval_out, Json(sc));
    std::cout << "mean_iou=" << sc.mean_iou << " iou_particle=" << sc.iou_particle
              << " iou_background=" << sc.iou_background << " dice=" << sc.dice_particle
              << " pixel_accuracy=" << sc.pixel_accuracy << " images=" << sc.images
              << " particles_found=" << sc.particles_found << "/" << sc.particles
              << " diameter_ratio=" << sc.diameter_ratio << std::endl;
  });

  static segment::AnalyzeSettings an;
  load_config(ctx, "segment analyze", an);
  auto* an_cmd = sg->add_subcommand("analyze", "split touching particles, measure them, PSD (CSV, PNG, report)");
  an_cmd->add_option("--images", an.images, "image file or folder");
  an_cmd->add_option("--masks", an.masks, "folder of masks (else segment the images)");
  an_cmd->add_option("--model", an.model, "segmenter model.pt (else the rough method)");
  an_cmd->add_option("--out", an.out, "output folder")->capture_default_str();
  an_cmd->add_option("--pixel-size", an.pixel_size_nm, "pixel size in nm (0 = from the files)")->capture_default_str();
  an_cmd->add_option("--truth", an.truth_csv, "known particles (phantom particles.csv) to compare with");
  an_cmd->add_flag("--exclude-border,!--include-border", an.exclude_border, "leave out particles cut by the border");
  an_cmd->add_option("--bins", an.bins, "histogram bins (0 = automatic)")->capture_default_str();
  an_cmd->add_option("--tta-views", an.tta_views, kViewsHelp)->capture_default_str();
  an_cmd->add_option("--threshold", an.threshold, "segmenter probability threshold (0 = the model's own)")
      ->capture_default_str();
  an_cmd->add_flag("--size-filter,!--no-size-filter", an.size_filter,
                   "leave detections outside the size filter's area limits out of the PSD (limits over all images together)");
  an_cmd->add_option("--min-area-ratio", an.min_area_ratio,
                     "size filter: drop detections below this fraction of the median area (specks; 0 = off)")
      ->capture_default_str();
  an_cmd->add_option("--max-area-ratio", an.max_area_ratio,
                     "size filter: drop detections above this multiple of the median area (0 = off)")
      ->capture_default_str();
  an_cmd->add_option("--filter-min-area", an.min_area_px, "size filter: absolute minimum area, px (0 = none)")
      ->capture_default_str();
  an_cmd->add_option("--min-significance", an.min_significance,
                     "contrast filter: leave out detections standing out of the support by less than this many "
                     "standard deviations of its means at their scale (0 = off)")
      ->capture_default_str();
  add_split_options(an_cmd, an.split);
  add_rough_options(an_cmd, an.rough);
  add_config_option(an_cmd);
  add_runtime_options(an_cmd, an.runtime);
  an_cmd->callback([] {
    const auto sum = segment::run_analyze(an);
    std::cout << sum.last_line() << std::endl;
  });

  static segment::WatchSettings watch;
  load_config(ctx, "segment watch", watch);
  auto* watch_cmd = sg->add_subcommand("watch", "measure each new image of a folder as it is written; running PSD");
  watch_cmd->add_option("dir", watch.dir, "folder the microscope writes into")->required();
  watch_cmd->add_option("--out", watch.out, "running PSD folder")->capture_default_str();
  watch_cmd->add_option("--model", watch.model, "segmenter model.pt (else the rough method)");
  watch_cmd->add_option("--tta-views", watch.tta_views, kViewsHelp)->capture_default_str();
  watch_cmd->add_option("--threshold", watch.threshold, "segmenter probability threshold (0 = the model's own)")
      ->capture_default_str();
  watch_cmd->add_option("--pixel-size", watch.pixel_size_nm, "pixel size in nm (0 = from the files)")
      ->capture_default_str();
  watch_cmd->add_option("--poll", watch.poll_s, "seconds between folder scans")->capture_default_str();
  watch_cmd->add_option("--settle", watch.settle_s, "a file is complete when unchanged this long, s")
      ->capture_default_str();
  watch_cmd->add_option("--max-images", watch.max_images, "stop after N files (0 = never)")->capture_default_str();
  watch_cmd->add_option("--idle-timeout", watch.idle_timeout_s, "stop after this long without new files, s (0 = never)")
      ->capture_default_str();
  watch_cmd->add_flag("--size-filter,!--no-size-filter", watch.size_filter,
                      "leave detections outside the area limits out of the running PSD");
  watch_cmd->add_option("--min-area-ratio", watch.min_area_ratio,
                        "size filter: drop detections below this fraction of the median area (0 = off)")
      ->capture_default_str();
  watch_cmd->add_option("--max-area-ratio", watch.max_area_ratio,
                        "size filter: drop detections above this multiple of the median area (0 = off)")
      ->capture_default_str();
  watch_cmd->add_option("--filter-min-area", watch.min_area_px, "size filter: absolute minimum area, px (0 = none)")
      ->capture_default_str();
  watch_cmd->add_option("--min-significance", watch.min_significance,
                        "contrast filter of the running PSD (see segment analyze; 0 = off)")
      ->capture_default_str();
  add_split_options(watch_cmd, watch.split);
  add_rough_options(watch_cmd, watch.rough);
  add_config_option(watch_cmd);
  add_runtime_options(watch_cmd, watch.runtime);
  watch_cmd->callback([] {
    const auto sum = segment::run_watch(watch);
    std::cout << "images=" << sum.images << " failed=" << sum.failed << " particles=" << sum.particles
              << " mean_latency_s=" << sum.mean_latency_s << std::endl;
  });

  static segment::PipelineSettings pipe;
  static ModelFlags pipe_model;
  load_config(ctx, "segment pipeline", pipe);
  auto* pipe_cmd = sg->add_subcommand("pipeline", "label-free pipeline: rough -> stats -> masks -> GANs -> segmenter -> threshold calibration");
  pipe_cmd->add_option("--images", pipe.images, "folder of real unlabelled images")->required();
  pipe_cmd->add_option("--out", pipe.out, "run folder")->capture_default_str();
  pipe_cmd->add_option("--subset", pipe.subset, "images used for rough masks and the GAN (0 = all)")
      ->capture_default_str();
  pipe_cmd->add_option("--random-masks", pipe.random_masks, "generated training pairs")->capture_default_str();
  pipe_cmd->add_option("--mask-size", pipe.mask_size, "side of the generated images, px")->capture_default_str();
  pipe_cmd->add_option("--gan-epochs", pipe.morphology.epochs, "morphology GAN epochs")->capture_default_str();
  pipe_cmd->add_option("--gan-crop", pipe.morphology.crop, "morphology GAN crop, px")->capture_default_str();
  pipe_cmd->add_option("--gan-ngf", pipe.morphology.ngf, "morphology GAN generator width")->capture_default_str();
  pipe_cmd->add_flag("--contrast,!--no-contrast", pipe.contrast, "run the contrast GAN (CycleGAN) step");
  pipe_cmd->add_option("--contrast-epochs", pipe.contrast_gan.epochs, "contrast GAN epochs")->capture_default_str();
  pipe_cmd->add_option("--contrast-steps", pipe.contrast_gan.steps_per_epoch, "contrast GAN steps per epoch")
      ->capture_default_str();
  pipe_cmd->add_option("--contrast-crop", pipe.contrast_gan.crop, "contrast GAN crop, px")->capture_default_str();
  pipe_cmd->add_option("--contrast-ngf", pipe.contrast_gan.ngf, "contrast GAN generator width")->capture_default_str();
  pipe_cmd->add_option("--contrast-blocks", pipe.contrast_gan.n_blocks, "contrast GAN residual blocks")
      ->capture_default_str();
  pipe_cmd->add_flag("--clean-rough,!--no-clean-rough", pipe.clean_rough,
                     "pair the morphology GAN's images with rough masks cleaned of specks below the fitted minimum "
                     "area");
  pipe_cmd->add_flag("--match-labels,!--no-match-labels", pipe.match_labels,
                     "train the segmenter on the random masks redrawn to where the rough method finds the generated "
                     "particles (label consistency; label_offset.json)");
  pipe_cmd->add_flag("--calibrate,!--no-calibrate", pipe.calibrate,
                     "calibrate the segmenter's probability threshold on the real images against their cleaned rough "
                     "masks (threshold_calibration.json)");
  pipe_model.add(pipe_cmd);
  add_train_options(pipe_cmd, pipe.segmenter);
  add_rough_options(pipe_cmd, pipe.rough);
  add_split_options(pipe_cmd, pipe.split);
  add_fit_options(pipe_cmd, pipe.fit);
  add_config_option(pipe_cmd);
  add_runtime_options(pipe_cmd, pipe.runtime);
  pipe_cmd->callback([pipe_cmd] {
    pipe_model.apply(pipe_cmd, pipe.segmenter.model);
    const auto model = segment::run_pipeline(pipe);
    std::cout << "model: " << model.string() << std::endl;
  });
}

}  // namespace emgan::cli
