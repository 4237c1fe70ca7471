// libFuzzer target for one decoder of emgan_io_raw; EMGAN_FUZZ_FORMAT names it
// ("tiff", "png", "text", "npy", "mrc", "dm"). A decoder may only return a
// consistent image or throw emgan::IoError naming the input; anything else (a
// crash, a sanitizer report, another exception, a leak, a hang) is a finding.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "emgan/io/formats.h"

#ifndef EMGAN_FUZZ_FORMAT
#error "define EMGAN_FUZZ_FORMAT"
#endif

namespace {
const std::string kName = "fuzz-input";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  emgan::io::DecodeOptions options;
  options.max_samples = int64_t(1) << 24;  // 64 MiB of floats: keeps runs inside the RSS limit
  try {
    const emgan::io::RawImage image = emgan::io::decode_image(data, size, EMGAN_FUZZ_FORMAT, kName, options);
    const int64_t n = image.channels * image.depth * image.height * image.width;
    if (n <= 0 || static_cast<uint64_t>(n) != image.data.size()) std::abort();
    if (!image.is_volume && image.depth != 1) std::abort();
    // What was decoded must encode again (exercises the encoders on odd shapes/values).
    if (n <= 4096 && image.channels == 1) {
      emgan::io::EncodeOptions enc;
      const auto bytes = emgan::io::encode_npy(image, enc, kName);
      const auto back = emgan::io::decode_npy(bytes.data(), bytes.size(), kName);
      if (back.data.size() != image.data.size()) std::abort();
    }
  } catch (const emgan::IoError& e) {
    if (std::string(e.what()).rfind(kName, 0) != 0) std::abort();  // the message must name the file
  }
  return 0;
}
