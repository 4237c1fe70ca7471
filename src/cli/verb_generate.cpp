// `emgan generate train|sample`.
#include <iostream>
#include <sstream>

#include "cli.h"
#include "emgan/generate/generate.h"

namespace emgan::cli {

void register_generate(CLI::App& root, const Context& ctx) {
  auto* gen = root.add_subcommand("generate", "Generative models of microstructures (slicegan, dcgan, vae, vaegan)");
  gen->require_subcommand(1);

  static generate::GenerateTrainSettings train;
  // A run's config.json loads back: the encoding and optimiser it adds are derived.
  load_config(ctx, "generate train", train, generate::kRunInfoKeys);
  auto* t = gen->add_subcommand("train", "train a generator; writes RUN/model.pt, curves, samples and index.html");
  t->add_option("--model", train.model, "slicegan | dcgan | vae | vaegan")->capture_default_str();
  t->add_option("--data", train.data,
                "training image(s) or volume: slicegan 1 image (isotropic) or 3 (x, y, z) or a 3D volume");
  t->add_option("--out", train.out, "run directory")->capture_default_str();
  t->add_option("--phases", train.phases, "number of phases (Otsu thresholds for a grey image); 0 = detect")
      ->capture_default_str();
  t->add_flag("--grey", train.grey, "model grey intensities instead of phases");
  t->add_flag("--resume,!--no-resume", train.resume, "continue from RUN/checkpoint.pt");
  t->add_option("--iterations", train.iterations, "generator steps")->capture_default_str();
  t->add_option("--batch-size", train.batch_size, "volumes (slicegan) or images per generator step")
      ->capture_default_str();
  // --lr/--beta1/--beta2 set the chosen model's entry of `optim`; the help lists every
  // model's default, read from the settings struct.
  static double lr = 0.0, beta1 = 0.0, beta2 = 0.0;
  const generate::ModelOptimizers defaults;
  auto per_model = [&](double generate::OptimizerSettings::*field) {
    std::ostringstream os;
    const char* sep = "";
    for (const std::string m : {"slicegan", "dcgan", "vae", "vaegan"}) {
      os << sep << m << " " << defaults.of(m).*field;
      sep = ", ";
    }
    return " of the chosen model (defaults: " + os.str() + "; config: optim.<model>)";
  };
  auto* o_lr = t->add_option("--lr", lr, "Adam learning rate" + per_model(&generate::OptimizerSettings::lr))
                    ->default_str("");
  auto* o_beta1 = t->add_option("--beta1", beta1, "Adam beta1" + per_model(&generate::OptimizerSettings::beta1))
                    ->default_str("");
  auto* o_beta2 = t->add_option("--beta2", beta2, "Adam beta2" + per_model(&generate::OptimizerSettings::beta2))
                    ->default_str("");
  t->add_option("--width", train.width, "multiplier of every inner layer width (e.g. 0.125 on a CPU)")
      ->capture_default_str();
  t->add_option("--augment", train.augment,
                "random symmetries of the real crops: none | flips | dihedral (+ 90-degree "
                "rotations; isotropic "
                "materials)")
      ->capture_default_str();
  t->add_option("--latent-channels", train.latent_channels, "slicegan: channels of the latent field")
      ->capture_default_str();
  t->add_option("--latent-size", train.latent_size, "slicegan: training latent side (4 -> 64^3)")
      ->capture_default_str();
  t->add_option("--critic-steps", train.critic_steps,
                "slicegan (and 2d --gan-loss wgan): critic steps per generator step")
      ->capture_default_str();
  t->add_option("--real-batch", train.real_batch, "slicegan: real crops per critic step and axis (0 = batch size)")
      ->capture_default_str();
  t->add_option("--slices-per-volume", train.slices_per_volume,
                "slicegan: random slices of each generated volume per axis the critics see (0 = "
                "all, SliceGAN's)")
      ->capture_default_str();
  t->add_option("--gp-lambda", train.gp_lambda,
                "slicegan (and 2d --gan-loss wgan): gradient penalty weight")
      ->capture_default_str();
  t->add_option("--target-fractions", train.target_fractions, "target fraction of phase 0, 1, ... (property control)");
  t->add_option("--fraction-weight", train.fraction_weight, "weight of the fraction loss")->capture_default_str();
  t->add_option("--mode-seeking", train.mode_seeking,
                "slicegan: weight of the mode-seeking term (MSGAN) against a generator that "
                "ignores its latent; 0 = off")
      ->capture_default_str();
  t->add_option(
       "--g-upsample", train.g_upsample,
       "slicegan, dcgan, vaegan: last generator layer transposed (the papers') | resize "
       "(2x tri/bilinear upsampling + 3x3(x3) conv, SliceGAN's code default; no checkerboard)")
      ->capture_default_str();
  t->add_option(
       "--critic-input", train.critic_input,
       "slicegan, dcgan, vaegan; n-phase: the critics see the generated soft probabilities "
       "(SliceGAN's) | hard one-hot argmax phases (straight-through gradients)")
      ->capture_default_str();
  t->add_option("--reset-critics", train.reset_critics,
                "slicegan, with --resume: critics to start afresh (new weights and Adam state), by "
                "axis: z, y, x (once; recorded in config.json as critic_resets)")
      ->delimiter(',');
  t->add_option("--image-size", train.image_size, "2d models: 64, 128 or 256")->capture_default_str();
  t->add_option("--latent", train.latent, "2d models: latent size (0 = image size / 2 for dcgan, 64 for vae)")
      ->capture_default_str();
  t->add_option("--g-norm", train.g_norm, "dcgan: generator norm batch | instance")->capture_default_str();
  t->add_flag("--spectral-norm,!--no-spectral-norm", train.spectral_norm,
              "dcgan/vaegan: spectral norm on D (on by default; --no-spectral-norm turns it off)");
  t->add_flag("--minibatch-std,!--no-minibatch-std", train.minibatch_std,
              "dcgan/vaegan: minibatch standard deviation channel in D (against mode collapse)");
  t->add_option("--gan-loss", train.gan_loss,
                "dcgan/vaegan: vanilla | lsgan | hinge | wgan (gradient penalty --gp-lambda, "
                "--critic-steps D steps)")
      ->capture_default_str();
  t->add_option("--instance-noise", train.instance_noise,
                "dcgan/vaegan: sigma of noise on D's inputs, annealed linearly to 0 (0 = none)")
      ->capture_default_str();
  t->add_option("--kl-weight", train.kl_weight, "vae/vaegan: KL weight")->capture_default_str();
  t->add_option("--pixel-weight", train.pixel_weight,
                "vaegan: weight of the pixel reconstruction term in the encoder and decoder losses (0 = feature reconstruction only)");
  t->add_option("--gamma", train.gamma, "vaegan: weight of feature reconstruction in the decoder loss")
      ->capture_default_str();
  t->add_option(
       "--diversity-every", train.diversity_every,
       "iterations between mode-collapse checks (diversity.csv; slicegan: central slices of 16 "
       "volumes); 0 = none")
      ->capture_default_str();
  t->add_option("--log-every", train.log_every, "iterations between metrics rows")->capture_default_str();
  t->add_option("--checkpoint-every", train.checkpoint_every, "iterations between checkpoints")->capture_default_str();
  t->add_option(
       "--snapshot-every", train.snapshot_every,
       "iterations between model snapshots RUN/snapshots/model_<iteration>.pt (for generate "
       "sample --model); 0 = none")
      ->capture_default_str();
  t->add_option("--sample-size", train.sample_size, "slicegan: side of the report volume (0 = training size)")
      ->capture_default_str();
  t->add_flag(
      "--report-tortuosity,!--no-report-tortuosity", train.report_tortuosity,
      "compare the report's samples with a real training volume/image including tortuosity (on by "
      "default; the solves take minutes for a large volume)");
  add_config_option(t);
  add_runtime_options(t, train.runtime);
  t->callback([o_lr, o_beta1, o_beta2] {
    if (o_lr->count() || o_beta1->count() || o_beta2->count()) {
      auto& o = train.optim.of(train.model);
      if (o_lr->count()) o.lr = lr;
      if (o_beta1->count()) o.beta1 = beta1;
      if (o_beta2->count()) o.beta2 = beta2;
    }
    const auto summary = generate::run_train(train);
    std::cout << summary.last_line() << std::endl;
  });

  static generate::GenerateSampleSettings sample;
  load_config(ctx, "generate sample", sample);
  auto* s = gen->add_subcommand("sample", "generate images or volumes (TIFF, .npy, .vti, PNG) from a trained model");
  s->add_option("--model", sample.model, "run directory or its model.pt")->required();
  s->add_option("--out", sample.out, "output folder")->capture_default_str();
  s->add_option("--count", sample.count, "number of samples")->capture_default_str();
  s->add_option("--size", sample.size, "slicegan: volume side in voxels (0 = training size)")->capture_default_str();
  s->add_flag("--periodic", sample.periodic, "slicegan: periodic volumes (side a multiple of 32)");
  s->add_option("--compare", sample.compare, "real image/volume: microstructure statistics of each sample against it");
  s->add_flag("--tortuosity,!--no-tortuosity", sample.tortuosity, "with --compare: run the diffusion solves");
  s->add_option("--reconstruct", sample.reconstruct, "vae/vaegan: images to reconstruct and interpolate between");
  s->add_option("--norm-stats", sample.norm_stats,
                "generator batch norm statistics: batch (of the generated batch, as in training) | running (eval mode)")
      ->capture_default_str();
  s->add_option(
      "--fractions", sample.fractions,
      "n-phase models: calibrate every sample's labels to these phase fractions (phase 0, 1, ...; "
      "fewer values leave the last phases free)");
  s->add_flag("--match-fractions", sample.match_fractions,
              "n-phase models: calibrate every sample to the model's target fractions");
  add_config_option(s);
  add_runtime_options(s, sample.runtime);
  s->callback([] {
    const auto summary = generate::run_sample(sample);
    std::cout << summary.last_line() << std::endl;
  });
}

}  // namespace emgan::cli
