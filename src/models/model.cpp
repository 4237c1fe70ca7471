#include "emgan/models/model.h"

#include "emgan/core/error.h"
#include "emgan/models/discriminators.h"
#include "emgan/models/generators.h"

namespace emgan::models {

namespace {

constexpr const char* kInfoKey = "emgan_model";
constexpr const char* kFormat = "emgan-model";
constexpr int kFormatVersion = 1;

// Options of type Opts: defaults, then the preset's values, then the user's.
template <typename Opts>
Opts preset_options(const std::string& name, const Json& preset, const Json& user) {
  const std::string source = "options of model '" + name + "'";
  Json given = user.is_null() ? Json::object() : user;
  if (!given.is_object()) throw ConfigError(source + ": expected a JSON object, got " + given.dump());
  check_settings_keys(given, Json(Opts{}), source);
  Json merged = preset;
  merged.merge_patch(given);
  return settings_from_json<Opts>(merged, source);
}

template <typename Opts, typename Impl>
GeneratorRegistry::Factory generator_factory(const std::string& name, Json preset = Json::object()) {
  return [name, preset](const Json& user) -> GeneratorPtr {
    return std::make_shared<Impl>(preset_options<Opts>(name, preset, user));
  };
}

template <typename Opts, typename Impl>
DiscriminatorRegistry::Factory discriminator_factory(const std::string& name, Json preset = Json::object()) {
  return [name, preset](const Json& user) -> DiscriminatorPtr {
    return std::make_shared<Impl>(preset_options<Opts>(name, preset, user));
  };
}

}  // namespace

GeneratorRegistry& generator_registry() {
  static GeneratorRegistry registry = [] {
    GeneratorRegistry r("generator");
    r.add("unet", generator_factory<UNetOptions, UNetGeneratorImpl>("unet"),
          "pix2pix U-Net (defaults: unet_256)");
    r.add("unet_256", generator_factory<UNetOptions, UNetGeneratorImpl>("unet_256", {{"depth", 8}}),
          "pix2pix unet_256: 8 stride-2 levels, ngf 64, dropout 0.5 in 3 levels");
    r.add("unet_128",
          generator_factory<UNetOptions, UNetGeneratorImpl>("unet_128", {{"depth", 7}, {"dropout_layers", 2}}),
          "pix2pix unet_128: 7 stride-2 levels");
    r.add("resnet", generator_factory<ResNetOptions, ResNetGeneratorImpl>("resnet"),
          "CycleGAN ResNet generator (defaults: resnet_9blocks)");
    r.add("resnet_9blocks", generator_factory<ResNetOptions, ResNetGeneratorImpl>("resnet_9blocks", {{"n_blocks", 9}}),
          "CycleGAN resnet_9blocks");
    r.add("resnet_6blocks", generator_factory<ResNetOptions, ResNetGeneratorImpl>("resnet_6blocks", {{"n_blocks", 6}}),
          "CycleGAN resnet_6blocks");
    r.add("lawrence2020", generator_factory<Lawrence2020Options, Lawrence2020GeneratorImpl>("lawrence2020"),
          "Keras pix2pix U-Net of Lawrence et al. 2020 (7x7 downs, upsample + conv ups)");
    return r;
  }();
  return registry;
}

DiscriminatorRegistry& discriminator_registry() {
  static DiscriminatorRegistry registry = [] {
    DiscriminatorRegistry r("discriminator");
    r.add("patchgan", discriminator_factory<PatchGANOptions, PatchGANDiscriminatorImpl>("patchgan"),
          "pix2pix PatchGAN (n_layers 3: 70x70 patches), optional spectral norm");
    r.add("multiscale_patchgan",
          discriminator_factory<MultiScaleOptions, MultiScaleDiscriminatorImpl>("multiscale_patchgan"),
          "one PatchGAN per scale, input average-pooled by 2 between scales (pix2pixHD)");
    r.add("lawrence2020_patchgan",
          discriminator_factory<Lawrence2020PatchGANOptions, Lawrence2020DiscriminatorImpl>("lawrence2020_patchgan"),
          "Keras pix2pix PatchGAN of Lawrence et al. 2020 (4 stride-2 4x4 convs)");
    return r;
  }();
  return registry;
}

GeneratorPtr make_generator(const std::string& name, const Json& options) {
  return generator_registry().create(name, options);
}

DiscriminatorPtr make_discriminator(const std::string& name, const Json& options) {
  return discriminator_registry().create(name, options);
}

// ---- files -------------------------------------------------------------------------------

namespace {

std::string short_what(const c10::Error& e) {
  std::string s = e.what_without_backtrace();
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

void save_any(const torch::nn::Module& model, const std::string& kind, const std::string& arch,
              const Json& options, const Json& meta, const fs::path& path) {
  const Json info = {{"format", kFormat}, {"version", kFormatVersion}, {"kind", kind},
                     {"arch", arch},      {"options", options},       {"meta", meta}};
  atomic_write(path, [&](const fs::path& tmp) {
    try {
      torch::serialize::OutputArchive archive;
      model.save(archive);
      archive.write(kInfoKey, c10::IValue(info.dump()));
      archive.save_to(tmp.string());
    } catch (const c10::Error& e) {
      throw IoError(path.string() + ": cannot write the model (" + short_what(e) + ")");
    }
  });
}

void open_archive(const fs::path& path, torch::serialize::InputArchive& archive, const torch::Device& device) {
  EMGAN_CHECK(IoError, fs::is_regular_file(path), path.string(), ": no such model file");
  try {
    archive.load_from(path.string(), device);
  } catch (const c10::Error& e) {
    throw IoError(path.string() + ": not a model file (not a torch archive: " + short_what(e) + ")");
  }
}

ModelInfo parse_info(const fs::path& path, torch::serialize::InputArchive& archive) {
  c10::IValue value;
  bool found = false;
  try {
    found = archive.try_read(kInfoKey, value);
  } catch (const c10::Error&) {
    found = false;
  }
  EMGAN_CHECK(ConfigError, found && value.isString(), path.string(),
              ": a torch archive without emgan's model description (not written by emgan save_model)");
  Json j;
  try {
    j = Json::parse(value.toStringRef());
  } catch (const Json::exception& e) {
    throw ConfigError(path.string() + ": model description is not valid JSON (" + e.what() + ")");
  }
  EMGAN_CHECK(ConfigError, j.is_object() && j.value("format", "") == kFormat, path.string(),
              ": model description has no format '", kFormat, "'");
  EMGAN_CHECK(ConfigError, j.value("version", 0) <= kFormatVersion, path.string(), ": model format version ",
              j.value("version", 0), " is newer than this emgan reads (", kFormatVersion, ")");
  ModelInfo info;
  try {
    info.kind = j.at("kind").get<std::string>();
    info.arch = j.at("arch").get<std::string>();
    info.options = j.at("options");
    info.meta = j.value("meta", Json::object());
  } catch (const Json::exception& e) {
    throw ConfigError(path.string() + ": incomplete model description (" + e.what() + ")");
  }
  return info;
}

ModelInfo read_checked(const fs::path& path, torch::serialize::InputArchive& archive, const std::string& kind,
                       const torch::Device& device) {
  open_archive(path, archive, device);
  ModelInfo info = parse_info(path, archive);
  EMGAN_CHECK(ConfigError, info.kind == kind, path.string(), ": holds a ", info.kind, " ('", info.arch,
              "'), expected a ", kind);
  return info;
}

template <typename Ptr>
Ptr load_weights(const fs::path& path, torch::serialize::InputArchive& archive, Ptr model,
                 const torch::Device& device) {
  model->to(device);
  try {
    model->load(archive);
  } catch (const c10::Error& e) {
    throw IoError(path.string() + ": weights do not fit the architecture it names (" + short_what(e) + ")");
  }
  return model;
}

template <typename Ptr, typename Reg>
Ptr build(const fs::path& path, const Reg& registry, const ModelInfo& info) {
  try {
    return registry.create(info.arch, info.options);
  } catch (const ConfigError& e) {
    throw ConfigError(path.string() + ": " + e.what());
  }
}

}  // namespace

void save_model(const ImageToImage& model, const fs::path& path, const Json& meta) {
  save_any(model, "generator", model.arch(), model.options_json(), meta, path);
}

void save_model(const Discriminator& model, const fs::path& path, const Json& meta) {
  save_any(model, "discriminator", model.arch(), model.options_json(), meta, path);
}

ModelInfo read_model_info(const fs::path& path) {
  torch::serialize::InputArchive archive;
  open_archive(path, archive, torch::Device("cpu"));
  return parse_info(path, archive);
}

GeneratorPtr load_generator(const fs::path& path, const torch::Device& device, ModelInfo* info) {
  torch::serialize::InputArchive archive;
  ModelInfo i = read_checked(path, archive, "generator", device);
  auto model = load_weights(path, archive, build<GeneratorPtr>(path, generator_registry(), i), device);
  if (info) *info = std::move(i);
  return model;
}

DiscriminatorPtr load_discriminator(const fs::path& path, const torch::Device& device, ModelInfo* info) {
  torch::serialize::InputArchive archive;
  ModelInfo i = read_checked(path, archive, "discriminator", device);
  auto model = load_weights(path, archive, build<DiscriminatorPtr>(path, discriminator_registry(), i), device);
  if (info) *info = std::move(i);
  return model;
}

}  // namespace emgan::models
