#pragma once
// Small configurations of every registered model, for fast tests.
#include <string>

#include "emgan/core/config.h"
#include "emgan/nn/weight_norms.h"
#include "test_util.h"

namespace emgan::test {

/// Options that make generator `name` small (a few thousand parameters).
inline Json small_generator_options(const std::string& name) {
  if (name.rfind("unet", 0) == 0) return {{"ngf", 4}, {"depth", 5}};
  if (name.rfind("resnet", 0) == 0) return {{"ngf", 4}, {"n_blocks", 2}};
  if (name == "lawrence2020") return {{"ngf", 2}, {"depth", 5}};
  return Json::object();
}

/// Options that make discriminator `name` small.
inline Json small_discriminator_options(const std::string& name) {
  if (name == "patchgan") return {{"ndf", 4}, {"n_layers", 2}};
  if (name == "multiscale_patchgan") return {{"n_scales", 2}, {"patchgan", {{"ndf", 4}, {"n_layers", 2}}}};
  if (name == "lawrence2020_patchgan") return {{"ndf", 4}, {"n_layers", 3}};
  return Json::object();
}

}  // namespace emgan::test
