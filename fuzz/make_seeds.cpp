// Writes the seed corpus of the fuzz targets: tiny valid files (< 10 KB each) of
// every format, in <out>/<format>/. Usage: fuzz_make_seeds OUT_DIR
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "dm_builder.h"
#include "emgan/io/formats.h"

namespace {

using emgan::io::EncodeOptions;
using emgan::io::RawImage;

void save(const std::filesystem::path& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

RawImage image(int64_t c, int64_t d, int64_t h, int64_t w) {
  RawImage im;
  im.channels = c;
  im.depth = d;
  im.height = h;
  im.width = w;
  im.is_volume = d > 1;
  im.data.resize(static_cast<size_t>(c * d * h * w));
  for (size_t i = 0; i < im.data.size(); ++i) im.data[i] = static_cast<float>((i * 29) % 251);
  im.meta.unit = "nm";
  im.meta.pixel_size_x = im.meta.pixel_size_y = 0.5;
  return im;
}

std::vector<uint8_t> encode(const RawImage& im, const std::string& format, const std::string& dtype,
                            const std::string& compression = "none") {
  EncodeOptions o;
  o.dtype = dtype;
  o.compression = compression;
  return emgan::io::encode_image(im, format, o, "seed");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds OUT_DIR\n";
    return 2;
  }
  const std::filesystem::path out = argv[1];
  const RawImage small = image(1, 1, 6, 7), vol = image(1, 3, 4, 5), rgb = image(3, 1, 4, 4), rgba = image(4, 1, 3, 3);
  save(out / "tiff", "f32.tif", encode(small, "tiff", "float32"));
  save(out / "tiff", "u16_deflate_vol.tif", encode(vol, "tiff", "uint16", "deflate"));
  save(out / "tiff", "u8_lzw_rgb.tif", encode(rgb, "tiff", "uint8", "lzw"));
  save(out / "tiff", "i16_packbits.tif", encode(small, "tiff", "int16", "packbits"));
  save(out / "tiff", "rgba_f32_deflate.tif", encode(rgba, "tiff", "float32", "deflate"));
  save(out / "png", "grey8.png", encode(small, "png", "uint8"));
  save(out / "png", "grey16.png", encode(small, "png", "uint16"));
  save(out / "png", "rgb8.png", encode(rgb, "png", "uint8"));
  save(out / "png", "rgba16.png", encode(rgba, "png", "uint16"));
  save(out / "text", "img.txt", encode(small, "text", "float32"));
  const std::string csv = "# comment\n1e-5, -0.0, 3\n4.5, nan, -6E+2\n";
  save(out / "text", "img.csv", std::vector<uint8_t>(csv.begin(), csv.end()));
  save(out / "npy", "f32.npy", encode(small, "npy", "float32"));
  save(out / "npy", "u16_vol.npy", encode(vol, "npy", "uint16"));
  save(out / "npy", "f64.npy", encode(small, "npy", "float64"));
  save(out / "mrc", "i8.mrc", encode(small, "mrc", "int8"));
  save(out / "mrc", "f32_vol.mrc", encode(vol, "mrc", "float32"));
  save(out / "mrc", "u16.mrc", encode(small, "mrc", "uint16"));
  namespace dm = emgan::test::dm;
  std::vector<float> f(12, 1.5f);
  std::vector<uint16_t> u(24, 7);
  for (int version : {3, 4}) {
    const std::string v = std::to_string(version);
    save(out / "dm", "f32.dm" + v,
         dm::image_file(dm::image_entry({4, 3}, 2, 6, dm::le_bytes(f), f.size(), {0.5f, 0.5f}, u"nm"), version));
    save(out / "dm", "u16_vol.dm" + v,
         dm::image_file(dm::image_entry({4, 3, 2}, 10, 4, dm::le_bytes(u), u.size(), {1.f, 1.f, 2.f}, u"\u00b5m"),
                        version));
  }
  std::cout << "seeds written to " << out << "\n";
  return 0;
}
