// Test entry point shared by every test program: tests named *_CUDA are skipped
// when no CUDA device is present, so one suite runs on CPU-only machines.
#include <gtest/gtest.h>
#include <torch/torch.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!torch::cuda::is_available()) {
    std::string filter = ::testing::GTEST_FLAG(filter);
    if (filter.find('-') == std::string::npos) {
      filter += "-*_CUDA";
    } else {
      filter += ":*_CUDA";
    }
    ::testing::GTEST_FLAG(filter) = filter;
  }
  torch::manual_seed(0);
  at::set_num_threads(1);
  return RUN_ALL_TESTS();
}
