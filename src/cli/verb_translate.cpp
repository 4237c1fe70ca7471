// `emgan translate cv|train|predict|ensemble|tune`.
#include <iostream>

#include "cli.h"
#include "emgan/workflows/translate.h"

namespace emgan::cli {

namespace {

void add_translate_options(CLI::App* sub, workflows::TranslateSettings& s) {
  sub->add_option("--data", s.data, "folder of pairs: <material>/<*convolution*>/ and <material>/<*multislice*>/");
  sub->add_option("--model", s.model, "poly | pix2pix");
  sub->add_option("--out", s.out, "run directory");
  sub->add_option("--folds", s.folds, "k of the k-fold cross-validation");
  sub->add_option("--only-fold", s.only_fold, "run one fold only (-1 = all)");
  sub->add_option("--protocol", s.protocol, "strict | paper (see README: Translation protocol)");
  sub->add_option("--input-pattern", s.input_pattern, "regex with one group (the ID) for input file names");
  sub->add_option("--target-pattern", s.target_pattern, "regex with one group (the ID) for target file names");
  sub->add_flag("--resume,!--no-resume", s.resume, "continue a stopped run from its checkpoints");
  auto& p = s.pix2pix;
  sub->add_option("--preset", p.preset, "pix2pix network preset: lawrence2020, or \"\" for --generator/--discriminator");
  sub->add_option("--generator", p.generator, "generator name when no preset (unet, resnet, ...)");
  sub->add_option("--discriminator", p.discriminator, "discriminator name when no preset (patchgan, ...)");
  sub->add_option("--epochs", p.epochs, "pix2pix: passes over the training images");
  sub->add_option("--batch-size", p.batch_size, "pix2pix: crops per step");
  sub->add_option("--crop", p.crop, "pix2pix: side of the training crops, px");
  sub->add_option("--lr", p.lr, "pix2pix: learning rate (-1 = automatic: 5e-4 for plain regression, 2e-4 with --lambda-gan > 0)");
  sub->add_option("--beta1", p.beta1, "pix2pix: Adam beta1 (-1 = automatic: 0.9 for plain regression, 0.5 with --lambda-gan > 0)");
  sub->add_option("--optimizer", p.optimizer, "pix2pix: adam | adamw | sgd | rmsprop");
  sub->add_option("--rec-loss", p.rec_loss, "pix2pix: l1 | mse | l1+mse | ssim");
  sub->add_option("--lambda-gan", p.lambda_gan, "pix2pix: adversarial weight (0 = plain regression on the reconstruction loss, the default; 1 = pix2pix GAN)");
  sub->add_option("--lambda-rec", p.lambda_rec, "pix2pix: reconstruction weight");
  sub->add_option("--input-norm", p.input_norm, "pix2pix: per-image input normalisation (meanstd, minmax, ...)");
  sub->add_option("--eval-every", p.eval_every, "pix2pix: test-fold error every N epochs (cv; 0 = never)");
  sub->add_option("--ema", p.ema, "pix2pix: EMA decay of the generator weights per step (0 = off)");
  sub->add_flag("--tta,!--no-tta", p.tta, "pix2pix: average predictions over the 8 flips/rotations (default on)");
  sub->add_option("--norm-stats", p.norm_stats, "pix2pix: batch-norm statistics at prediction: running | batch");
  add_config_option(sub);
  add_runtime_options(sub, s.runtime);
}

}  // namespace

void register_translate(CLI::App& root, const Context& ctx) {
  auto* tr = root.add_subcommand("translate", "Conv-to-multislice STEM translation (pix2pix, poly)");
  tr->require_subcommand(1);

  static workflows::TranslateSettings cv;
  load_config(ctx, "translate cv", cv);
  auto* cv_cmd = tr->add_subcommand("cv", "k-fold cross-validation with report; prints the mean figures last");
  add_translate_options(cv_cmd, cv);
  cv_cmd->callback([] {
    const auto summary = workflows::run_cv(cv);
    std::cout << summary.last_line() << std::endl;
  });

  static workflows::TranslateSettings train;
  load_config(ctx, "translate train", train);
  auto* train_cmd = tr->add_subcommand("train", "train on all pairs; writes RUN/model");
  add_translate_options(train_cmd, train);
  train_cmd->callback([] { workflows::run_train(train); });

  static workflows::PredictSettings pred;
  load_config(ctx, "translate predict", pred);
  auto* pred_cmd = tr->add_subcommand("predict", "predict multislice images (float32 TIFF, physical units) from convolution images");
  pred_cmd->add_option("--model", pred.model, "model folder (RUN/model); two or more: their predictions averaged")
      ->required();
  pred_cmd->add_option("--input", pred.input, "convolution image file or folder")->required();
  pred_cmd->add_option("--material", pred.material,
                       "material of the images (needed by a model fitted on several materials): one of the model's "
                       "materials, or 'pooled' for one it was not trained on");
  pred_cmd->add_option("--output", pred.output, "output folder");
  pred_cmd->add_flag("--png,!--no-png", pred.png, "also write PNG previews");
  pred_cmd->add_option("--tta", pred.tta, "flip/rotation averaging: model (as saved) | on | off (8x faster)");
  add_config_option(pred_cmd);
  add_runtime_options(pred_cmd, pred.runtime);
  pred_cmd->callback([] {
    const auto n = workflows::run_predict(pred);
    std::cout << "predicted " << n << " image(s) into " << pred.output << std::endl;
  });

  static workflows::EnsembleSettings ens;
  load_config(ctx, "translate ensemble", ens);
  auto* ens_cmd = tr->add_subcommand(
      "ensemble", "average the test predictions of several cv runs (same data and folds) and score the average");
  ens_cmd->add_option("--runs", ens.runs, "translate cv run folders (--only-fold runs count one each)")->required();
  ens_cmd->add_option("--out", ens.out, "run directory");
  add_config_option(ens_cmd);
  ens_cmd->callback([] {
    const auto summary = workflows::run_ensemble(ens);
    std::cout << summary.last_line() << std::endl;
  });

  static workflows::TuneSettings tune;
  load_config(ctx, "translate tune", tune);
  auto* tune_cmd = tr->add_subcommand("tune", "nested grid search (lr, batch, optimizer, loss) inside the training folds");
  add_translate_options(tune_cmd, tune.base);
  tune_cmd->add_option("--grid-lr", tune.lr, "learning rates of the grid");
  tune_cmd->add_option("--grid-batch", tune.batch_size, "batch sizes of the grid");
  tune_cmd->add_option("--grid-optimizer", tune.optimizer, "optimizers of the grid");
  tune_cmd->add_option("--grid-loss", tune.rec_loss, "reconstruction losses of the grid");
  tune_cmd->add_option("--inner-folds", tune.inner_folds, "folds of the inner split");
  tune_cmd->add_option("--max-configs", tune.max_configs, "0 = whole grid; else a seeded sample of N grid points");
  tune_cmd->callback([] {
    tune.base.model = "pix2pix";
    const auto summary = workflows::run_tune(tune);
    std::cout << summary.last_line() << std::endl;
  });
}

}  // namespace emgan::cli
