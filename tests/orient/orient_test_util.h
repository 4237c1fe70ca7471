#pragma once
// Settings shared by the orientation tests.
#include <cstdint>
#include <string>

#include "emgan/core/fs.h"
#include "emgan/orient/orient.h"

namespace emgan::test {

/// A small, fast training run (width 8, batch 32, lr 3e-3, one CPU thread, seed 3).
inline orient::TrainSettings tiny_train(const fs::path& data, const fs::path& out, const std::string& method,
                                        int64_t epochs) {
  orient::TrainSettings t;
  t.data = data.string();
  t.out = out.string();
  t.method = method;
  t.epochs = epochs;
  t.batch_size = 32;
  t.width = 8;
  t.lr = 3e-3;
  t.runtime.device = "cpu";
  t.runtime.threads = 1;
  t.runtime.seed = 3;
  return t;
}

}  // namespace emgan::test
