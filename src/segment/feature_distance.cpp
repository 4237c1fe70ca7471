#include "emgan/segment/feature_distance.h"

#include <torch/script.h>
#include <torch/torch.h>

#include "emgan/core/error.h"
#include "emgan/models/unetpp.h"
#include "emgan/segment/segmenter.h"

namespace emgan::segment {

namespace {

void check_features(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  EMGAN_CHECK(ConfigError, a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(1), what,
              ": expected feature sets [N, D] and [M, D], got ", a.sizes(), " and ", b.sizes());
  EMGAN_CHECK(ConfigError, a.size(0) >= 2 && b.size(0) >= 2, what, ": need at least 2 samples per set, got ",
              a.size(0), " and ", b.size(0));
}

torch::Tensor covariance(const torch::Tensor& x) {
  const auto c = x - x.mean(0, true);
  return c.t().mm(c) / static_cast<double>(x.size(0) - 1);
}

// Mean and standard deviation over space of [N, C, H, W] -> [N, 2C].
torch::Tensor pool_stats(const torch::Tensor& f) {
  const auto flat = f.flatten(2);
  return torch::cat({flat.mean(2), flat.std(2, /*unbiased=*/false)}, 1);
}

class RandConvFeatures : public FeatureExtractor {
 public:
  explicit RandConvFeatures(const torch::Device& device) : device_(device) {
    // The weights come from a private generator so the global seed is untouched.
    auto gen = torch::make_generator<at::CPUGeneratorImpl>(20240601);
    int64_t in = 1;
    for (int64_t out : {16, 32, 64, 128}) {
      const double std = std::sqrt(2.0 / static_cast<double>(in * 9));
      weights_.push_back((torch::randn({out, in, 3, 3}, gen) * std).to(device));
      in = out;
    }
  }
  torch::Tensor features(const torch::Tensor& images) override {
    torch::NoGradGuard guard;
    auto x = images.to(device_).to(torch::kFloat32);
    std::vector<torch::Tensor> parts;
    for (const auto& w : weights_) {
      x = torch::relu(torch::conv2d(x, w, {}, 2, 1));
      parts.push_back(pool_stats(x));
    }
    return torch::cat(parts, 1).cpu();
  }
  std::string name() const override { return "emgan-randconv-v1 (untrained 4-layer conv net, fixed seed)"; }

 private:
  torch::Device device_;
  std::vector<torch::Tensor> weights_;
};

class SegmenterFeatures : public FeatureExtractor {
 public:
  SegmenterFeatures(const std::string& path, const torch::Device& device) : path_(path), device_(device) {
    Segmenter seg(path, device);
    net_ = std::dynamic_pointer_cast<models::UNetPlusPlusImpl>(seg.network());
    EMGAN_CHECK(ConfigError, net_ != nullptr, path, ": not a UNet++ segmenter");
  }
  torch::Tensor features(const torch::Tensor& images) override {
    torch::NoGradGuard guard;
    return pool_stats(net_->encode(images.to(device_).to(torch::kFloat32))).cpu();
  }
  std::string name() const override { return "encoder of the segmenter " + path_; }

 private:
  std::string path_;
  torch::Device device_;
  std::shared_ptr<models::UNetPlusPlusImpl> net_;
};

class ScriptFeatures : public FeatureExtractor {
 public:
  ScriptFeatures(const std::string& path, const torch::Device& device) : path_(path), device_(device) {
    try {
      module_ = torch::jit::load(path, device);
    } catch (const c10::Error& e) {
      throw IoError(path + ": not a TorchScript module (" + e.what_without_backtrace() + ")");
    }
    module_.eval();
  }
  torch::Tensor features(const torch::Tensor& images) override {
    torch::NoGradGuard guard;
    auto out = module_.forward({images.to(device_).to(torch::kFloat32)}).toTensor();
    if (out.dim() == 4) out = out.mean({2, 3});
    return out.flatten(1).to(torch::kFloat32).cpu();
  }
  std::string name() const override { return "TorchScript " + path_; }

 private:
  std::string path_;
  torch::Device device_;
  torch::jit::script::Module module_;
};

}  // namespace

double frechet_distance(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  check_features(a_in, b_in, "frechet_distance");
  const auto a = a_in.to(torch::kFloat64), b = b_in.to(torch::kFloat64);
  const auto mu = a.mean(0) - b.mean(0);
  const auto ca = covariance(a), cb = covariance(b);
  const auto [la, va] = torch::linalg_eigh(ca);
  const auto sa = va.mm(torch::diag(la.clamp_min(0).sqrt())).mm(va.t());
  auto m = sa.mm(cb).mm(sa);
  m = 0.5 * (m + m.t());
  const auto lm = torch::linalg_eigvalsh(m);
  const double tr_sqrt = lm.clamp_min(0).sqrt().sum().item<double>();
  const double d = mu.dot(mu).item<double>() + ca.trace().item<double>() + cb.trace().item<double>() - 2.0 * tr_sqrt;
  return std::max(d, 0.0);
}

double kernel_distance(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  check_features(a_in, b_in, "kernel_distance");
  const auto a = a_in.to(torch::kFloat64), b = b_in.to(torch::kFloat64);
  const double d = static_cast<double>(a.size(1));
  const auto k = [d](const torch::Tensor& x, const torch::Tensor& y) { return (x.mm(y.t()) / d + 1.0).pow(3); };
  const double n = static_cast<double>(a.size(0)), m = static_cast<double>(b.size(0));
  const auto kaa = k(a, a), kbb = k(b, b), kab = k(a, b);
  const double saa = (kaa.sum() - kaa.diagonal().sum()).item<double>() / (n * (n - 1));
  const double sbb = (kbb.sum() - kbb.diagonal().sum()).item<double>() / (m * (m - 1));
  const double sab = kab.sum().item<double>() / (n * m);
  return saa + sbb - 2.0 * sab;
}

std::unique_ptr<FeatureExtractor> make_feature_extractor(const std::string& path, const torch::Device& device) {
  if (path.empty()) return std::make_unique<RandConvFeatures>(device);
  EMGAN_CHECK(IoError, fs::exists(path), path, ": feature network file not found");
  try {
    models::register_unetpp();
    const auto info = models::read_model_info(path);
    if (info.arch == "unetpp") return std::make_unique<SegmenterFeatures>(path, device);
    throw ConfigError(path + ": an emgan '" + info.arch + "' model is not a feature network (give a segmenter or a "
                      "TorchScript file)");
  } catch (const IoError&) {
    return std::make_unique<ScriptFeatures>(path, device);
  } catch (const ConfigError& e) {
    if (std::string(e.what()).find("not a feature network") != std::string::npos) throw;
    return std::make_unique<ScriptFeatures>(path, device);
  }
}

DistanceReport image_set_distance(const std::vector<torch::Tensor>& real, const std::vector<torch::Tensor>& generated,
                                  FeatureExtractor& extractor) {
  auto feats = [&](const std::vector<torch::Tensor>& images) {
    std::vector<torch::Tensor> f;
    for (const auto& im : images) f.push_back(extractor.features(im.to(torch::kFloat32).unsqueeze(0).unsqueeze(0)));
    EMGAN_CHECK(ConfigError, f.size() >= 2, "image_set_distance: need at least 2 images per set, got ", f.size());
    return torch::cat(f, 0);
  };
  DistanceReport r;
  r.feature_network = extractor.name();
  r.real = static_cast<int64_t>(real.size());
  r.generated = static_cast<int64_t>(generated.size());
  const auto fa = feats(real), fb = feats(generated);
  r.frechet = frechet_distance(fa, fb);
  r.kernel = kernel_distance(fa, fb);
  return r;
}

}  // namespace emgan::segment
