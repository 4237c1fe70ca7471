#pragma once
// Tiny modules and deterministic data shared by the train tests.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "emgan/train/trainer.h"

namespace emgan::test {

/// 1 -> 4 -> 1 channel conv net with optional dropout (uses the global RNG).
struct TinyGImpl : torch::nn::Cloneable<TinyGImpl> {
  explicit TinyGImpl(double dropout = 0.0) : p(dropout) { reset(); }
  void reset() override {
    c1 = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 4, 3).padding(1)));
    c2 = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 1, 3).padding(1)));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(c1->forward(x));
    if (p > 0) x = torch::dropout(x, p, is_training());
    return c2->forward(x);
  }
  double p;
  torch::nn::Conv2d c1{nullptr}, c2{nullptr};
};
TORCH_MODULE(TinyG);

/// PatchGAN-like: `in` channels -> stride-2 conv -> leaky ReLU -> 1-channel logits.
struct TinyDImpl : torch::nn::Cloneable<TinyDImpl> {
  explicit TinyDImpl(int64_t in = 2) : in_channels(in) { reset(); }
  void reset() override {
    c1 = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, 4, 3).stride(2).padding(1)));
    c2 = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 1, 3).padding(1)));
  }
  torch::Tensor forward(torch::Tensor x) {
    return c2->forward(torch::leaky_relu(c1->forward(x), 0.2));
  }
  int64_t in_channels;
  torch::nn::Conv2d c1{nullptr}, c2{nullptr};
};
TORCH_MODULE(TinyD);

/// Deterministic paired batch number `index` of epoch `epoch`: [2, 1, 8, 8] input from
/// a private generator (the global one is untouched) and a target derived from it.
inline train::Batch tiny_batch(int64_t epoch, int64_t index) {
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(1000 * epoch + index + 1));
  train::Batch b;
  b.input = torch::randn({2, 1, 8, 8}, gen, torch::kFloat32);
  b.target = 0.5 * b.input.flip({3}) + 0.1;
  return b;
}

/// Clones of all parameters and buffers of `m`, by name.
inline std::map<std::string, torch::Tensor> snapshot(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : m.named_parameters(true)) out[kv.key()] = kv.value().detach().clone();
  for (const auto& kv : m.named_buffers(true)) out["buffer:" + kv.key()] = kv.value().detach().clone();
  return out;
}

inline bool all_equal(const std::map<std::string, torch::Tensor>& a,
                      const std::map<std::string, torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& kv : a) {
    auto it = b.find(kv.first);
    if (it == b.end() || !torch::equal(kv.second.cpu(), it->second.cpu())) return false;
  }
  return true;
}

}  // namespace emgan::test
