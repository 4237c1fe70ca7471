#pragma once
/// \file model.h
/// The contract every network of emgan follows, the registries that build them by
/// name, and their files.
///
/// - ImageToImage: a generator, [N, in_channels, H, W] -> [N, out_channels, H, W] for
///   any H, W >= 1 (the network pads to the multiple it needs and crops back).
/// - Discriminator: [N, in_channels, H, W] -> one logits map [N, 1, h_s, w_s] per scale.
///   For a conditional (pix2pix) discriminator the caller concatenates input and
///   (real or generated) output along channels, so in_channels = in + out.
/// Each model reports its architecture name and effective options as JSON; building
/// that name with those options from the registry gives the same architecture.
///
/// Model files are torch::save archives (TorchScript zip, opened by Python's
/// torch.jit.load) holding the module tree's parameters and buffers plus a string
/// attribute `emgan_model`: JSON {"format": "emgan-model", "version": 1, "kind":
/// "generator"|"discriminator", "arch", "options", "meta"}. See docs/MODELS.md.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"
#include "emgan/core/registry.h"

namespace emgan::models {

/// A generator: image in, image of the same size out.
class ImageToImage : public torch::nn::Module {
 public:
  /// x: [N, in_channels(), H, W], any H, W >= 1, any value range (the training code
  /// normalises). Returns [N, out_channels(), H, W] in the output activation's range
  /// (tanh: (-1, 1); sigmoid: (0, 1); none: unbounded).
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  /// Architecture family name, a key of generator_registry() ("unet", "resnet", ...).
  virtual std::string arch() const = 0;
  /// Effective options (every field), accepted by generator_registry().create(arch()).
  virtual Json options_json() const = 0;
  /// Channels of the input image.
  virtual int64_t in_channels() const = 0;
  /// Channels of the output image.
  virtual int64_t out_channels() const = 0;
};

/// A (possibly multi-scale) discriminator.
class Discriminator : public torch::nn::Module {
 public:
  /// x: [N, in_channels(), H, W]. Returns one map of logits [N, 1, h_s, w_s] per scale
  /// (unbounded; the GAN loss applies the sigmoid / least squares / hinge).
  virtual std::vector<torch::Tensor> forward(torch::Tensor x) = 0;
  /// Architecture family name, a key of discriminator_registry().
  virtual std::string arch() const = 0;
  /// Effective options, accepted by discriminator_registry().create(arch()).
  virtual Json options_json() const = 0;
  /// Channels of the input (for pix2pix: input + output channels).
  virtual int64_t in_channels() const = 0;
};

using GeneratorPtr = std::shared_ptr<ImageToImage>;
using DiscriminatorPtr = std::shared_ptr<Discriminator>;
using GeneratorRegistry = Registry<GeneratorPtr, const Json&>;
using DiscriminatorRegistry = Registry<DiscriminatorPtr, const Json&>;

/// Generators by name, built from a JSON object of options (missing keys take the
/// defaults; unknown keys and wrong types are ConfigError). Built-in: unet, unet_256,
/// unet_128, resnet, resnet_9blocks, resnet_6blocks, lawrence2020. Workflows may add
/// their own.
GeneratorRegistry& generator_registry();

/// Discriminators by name: patchgan, multiscale_patchgan, lawrence2020_patchgan.
DiscriminatorRegistry& discriminator_registry();

/// generator_registry().create(name, options).
GeneratorPtr make_generator(const std::string& name, const Json& options = Json::object());
/// discriminator_registry().create(name, options).
DiscriminatorPtr make_discriminator(const std::string& name, const Json& options = Json::object());

/// What a model file says about itself.
struct ModelInfo {
  std::string kind;  ///< "generator" or "discriminator"
  std::string arch;  ///< registry name of the architecture family
  Json options;      ///< effective options
  Json meta;         ///< what the caller stored (normalisation, run, step ...)
};

/// Saves weights and description atomically (temp file + rename) to `path`.
/// `meta` is any JSON the caller wants kept with the weights.
void save_model(const ImageToImage& model, const fs::path& path, const Json& meta = Json::object());
void save_model(const Discriminator& model, const fs::path& path, const Json& meta = Json::object());

/// Reads the description of a model file without building the model. IoError when
/// the file is missing or not a torch archive; ConfigError when it is an archive
/// without emgan's description. Messages name the file.
ModelInfo read_model_info(const fs::path& path);

/// Rebuilds the generator stored in `path` and loads its weights onto `device`.
/// ConfigError naming the file when it holds a discriminator or an unknown
/// architecture; IoError when it is not a model file or the weights do not fit.
/// `info`, when given, receives the file's description (meta included).
GeneratorPtr load_generator(const fs::path& path, const torch::Device& device = torch::Device("cpu"),
                            ModelInfo* info = nullptr);

/// As load_generator, for discriminators.
DiscriminatorPtr load_discriminator(const fs::path& path, const torch::Device& device = torch::Device("cpu"),
                                    ModelInfo* info = nullptr);

}  // namespace emgan::models
