// The torch side of image I/O: RawImage <-> float32 tensors.
#include "emgan/io/image.h"

#include <torch/torch.h>

#include "emgan/io/formats.h"

namespace emgan::io {

Image to_image(RawImage raw) {
  std::vector<int64_t> sizes;
  if (raw.is_volume) {
    sizes = {raw.channels, raw.depth, raw.height, raw.width};
  } else {
    EMGAN_CHECK(IoError, raw.depth == 1, "to_image: a 2D image must have depth 1, got ", raw.depth);
    sizes = {raw.channels, raw.height, raw.width};
  }
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  EMGAN_CHECK(IoError, n == static_cast<int64_t>(raw.data.size()), "to_image: shape needs ", n,
              " samples but the data holds ", raw.data.size());
  // The tensor takes the decoded buffer over: no copy.
  auto* owner = new std::vector<float>(std::move(raw.data));
  Image image;
  image.data = torch::from_blob(
      owner->data(), sizes, [owner](void*) { delete owner; },
      torch::TensorOptions().dtype(torch::kFloat32).device(torch::kCPU));
  image.meta = std::move(raw.meta);
  return image;
}

Image read_image(const fs::path& path) { return to_image(read_raw_image(path)); }

void write_image(const fs::path& path, const torch::Tensor& data, const WriteOptions& options) {
  EMGAN_CHECK(ConfigError, data.defined(), path.string(), ": cannot write an undefined tensor");
  EMGAN_CHECK(ConfigError, data.dim() >= 2 && data.dim() <= 4, path.string(), ": expected a [H, W], [C, H, W] or ",
              "[C, D, H, W] tensor, got ", data.dim(), " dimensions ", data.sizes());
  EMGAN_CHECK(ConfigError, !data.is_complex(), path.string(), ": cannot write a complex tensor");
  const torch::Tensor t = data.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  RawImage raw;
  raw.channels = t.dim() == 2 ? 1 : t.size(0);
  raw.is_volume = t.dim() == 4;
  raw.depth = raw.is_volume ? t.size(1) : 1;
  raw.height = t.size(-2);
  raw.width = t.size(-1);
  raw.meta = options.meta;
  raw.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  EncodeOptions enc;
  enc.dtype = options.dtype;
  enc.compression = options.compression;
  write_raw_image(path, raw, enc);
}

std::vector<std::string> readable_extensions() { return supported_read_extensions(); }

std::vector<std::string> writable_extensions() { return supported_write_extensions(); }

}  // namespace emgan::io
