// Round trips per format and sample type, and files written by independent means
// (libtiff, libpng, bytes laid out by hand) read back with the right values.
#include <png.h>
#include <tiffio.h>

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>

#include "emgan/io/convert.h"
#include "emgan/io/formats.h"
#include "emgan/io/image.h"
#include "test_util.h"

namespace {

using emgan::ConfigError;
using emgan::IoError;
using namespace emgan::io;

void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

/// Values of an integer type's range plus a few inside, as a [C, D, H, W] tensor.
torch::Tensor test_values(const std::string& dtype, std::vector<int64_t> shape) {
  const int64_t n = std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<int64_t>());
  torch::Tensor t;
  if (dtype == "float32" || dtype == "float64") {
    t = torch::linspace(-3.5, 1234.25, n) * torch::linspace(1e-6, 1.0, n);
    t[0] = -0.0f;
    if (n > 2) t[1] = 1e-30f;
  } else {
    const auto range = dtype_range(dtype);
    t = torch::arange(n).to(torch::kFloat32).remainder(std::min(range.second - range.first + 1, 1000.0)) + range.first;
    t[0] = static_cast<float>(range.first);
    t[n - 1] = static_cast<float>(range.second);
  }
  return t.reshape(shape);
}

struct RoundTripCase {
  std::string ext;
  std::string dtype;
  std::vector<int64_t> shape;
  std::string compression = "none";
};

TEST(IoFormats, RoundTripsEveryFormatAndDtype) {
  const auto dir = emgan::test::temp_dir();
  std::vector<RoundTripCase> cases;
  for (std::string c : {"none", "deflate", "lzw", "packbits"})
    for (std::string d : {"uint8", "uint16", "int16", "float32"}) {
      cases.push_back({"tif", d, {1, 5, 7}, c});
      cases.push_back({"tiff", d, {1, 3, 5, 7}, c});  // a volume: multi-page
    }
  cases.push_back({"tif", "uint8", {3, 4, 6}});   // RGB
  cases.push_back({"tif", "uint16", {4, 4, 6}});  // RGBA
  for (std::string d : {"uint8", "uint16"})
    for (int64_t c : {1, 2, 3, 4}) cases.push_back({"png", d, {c, 5, 9}});
  for (std::string d : {"uint8", "uint16", "int16", "float32", "float64"}) {
    cases.push_back({"npy", d, {1, 4, 6}});
    cases.push_back({"npy", d, {1, 2, 4, 6}});
  }
  for (std::string d : {"int8", "int16", "uint16", "float32"}) {
    cases.push_back({"mrc", d, {1, 4, 6}});
    cases.push_back({"mrc", d, {1, 3, 4, 6}});
  }
  cases.push_back({"txt", "float32", {1, 6, 5}});
  cases.push_back({"csv", "float32", {1, 2, 3}});
  int k = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ext + " " + c.dtype + " " + c.compression + " " + std::to_string(c.shape.size()) + "D");
    const auto path = dir / ("img" + std::to_string(k++) + "." + c.ext);
    const torch::Tensor values = test_values(c.dtype, c.shape);
    WriteOptions options;
    options.dtype = c.dtype;
    options.compression = c.compression;
    write_image(path, values, options);
    const Image back = read_image(path);
    ASSERT_EQ(back.data.sizes(), values.sizes());
    EXPECT_EQ(back.data.dtype(), torch::kFloat32);
    const std::string expected_dtype = c.ext == "txt" || c.ext == "csv" ? "float64" : c.dtype;
    EXPECT_EQ(back.meta.dtype, expected_dtype);
    EXPECT_TRUE(torch::equal(back.data, values.to(torch::kFloat32)))
        << "max difference " << (back.data - values).abs().max().item<float>();
  }
  for (const auto& f : std::filesystem::directory_iterator(dir))  // no temporary file left behind
    EXPECT_EQ(f.path().filename().string().find(".tmp."), std::string::npos) << f.path();
  EXPECT_NE(emgan::read_text(dir / ("img" + std::to_string(k - 1) + ".csv")).find(','), std::string::npos);
}

TEST(IoFormats, IntegerWritesRoundAndClamp) {
  const auto dir = emgan::test::temp_dir();
  const torch::Tensor t = torch::tensor({-7.f, 0.4f, 0.6f, 254.5f, 300.f, NAN}).reshape({1, 2, 3});
  WriteOptions options;
  options.dtype = "uint8";
  write_image(dir / "a.tif", t, options);
  const Image back = read_image(dir / "a.tif");
  EXPECT_TRUE(torch::equal(back.data, torch::tensor({0.f, 0.f, 1.f, 254.f, 255.f, 0.f}).reshape({1, 2, 3})))
      << back.data;
  const DtypeFit fit = check_dtype_fit(std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + 6), "uint8");
  EXPECT_EQ(fit.nan, 1);
  EXPECT_EQ(fit.below, 1);
  EXPECT_EQ(fit.above, 1);
  EXPECT_EQ(fit.non_integer, 3);
}

TEST(IoFormats, UnsupportedCombinationsAreConfigErrors) {
  const auto dir = emgan::test::temp_dir();
  const torch::Tensor img = torch::rand({1, 4, 4});
  WriteOptions f32;
  try {
    write_image(dir / "a.png", img, f32);
    FAIL() << "float32 PNG accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("a.png"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("uint8, uint16"), std::string::npos) << e.what();
  }
  WriteOptions u8;
  u8.dtype = "uint8";
  EXPECT_THROW(write_image(dir / "v.png", torch::zeros({1, 2, 4, 4}), u8), ConfigError);
  EXPECT_THROW(write_image(dir / "m.mrc", img, u8), ConfigError);  // MRC mode 0 is signed
  EXPECT_THROW(write_image(dir / "c.npy", torch::zeros({3, 4, 4})), ConfigError);
  EXPECT_THROW(write_image(dir / "c.txt", torch::zeros({1, 2, 4, 4})), ConfigError);
  WriteOptions bad_compression;
  bad_compression.compression = "jpeg";
  EXPECT_THROW(write_image(dir / "c.tif", img, bad_compression), ConfigError);
  EXPECT_THROW(write_image(dir / "c.tif", torch::zeros({1, 1, 1, 2, 2})), ConfigError);
  EXPECT_FALSE(std::filesystem::exists(dir / "a.png"));
  try {
    write_image(dir / "x.jpg", img);
    FAIL() << "jpg accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("x.jpg"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("tif, tiff, png"), std::string::npos) << e.what();
  }
}

TEST(IoFormats, UnsupportedExtensionListsSupportedOnes) {
  const auto dir = emgan::test::temp_dir();
  write_bytes(dir / "img.bmp", {1, 2, 3});
  try {
    read_image(dir / "img.bmp");
    FAIL() << "bmp accepted";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("img.bmp"), std::string::npos) << msg;
    for (const auto& ext : readable_extensions()) EXPECT_NE(msg.find(ext), std::string::npos) << ext;
  }
  EXPECT_THROW(read_image(dir / "missing.tif"), IoError);
  EXPECT_EQ(format_for_extension("dm4"), "dm");
}

TEST(IoFormats, PixelSizeRoundTrips) {
  const auto dir = emgan::test::temp_dir();
  WriteOptions options;
  options.meta.unit = "nm";
  options.meta.pixel_size_x = 0.25;
  options.meta.pixel_size_y = 0.5;
  options.meta.pixel_size_z = 2.0;
  const torch::Tensor vol = torch::rand({1, 2, 3, 4});
  write_image(dir / "v.tif", vol, options);
  Image t = read_image(dir / "v.tif");
  EXPECT_EQ(t.meta.unit, "nm");
  EXPECT_NEAR(t.meta.pixel_size_x, 0.25, 1e-6);
  EXPECT_NEAR(t.meta.pixel_size_y, 0.5, 1e-6);
  EXPECT_NEAR(t.meta.pixel_size_z, 2.0, 1e-9);
  write_image(dir / "v.mrc", vol, options);
  Image m = read_image(dir / "v.mrc");
  EXPECT_EQ(m.meta.unit, "\xC3\x85");
  EXPECT_NEAR(m.meta.pixel_size_x, 2.5, 1e-5);
  EXPECT_NEAR(m.meta.pixel_size_y, 5.0, 1e-5);
  EXPECT_NEAR(m.meta.pixel_size_z, 20.0, 1e-5);
  options.dtype = "uint8";
  options.meta.pixel_size_x = options.meta.pixel_size_y = 100.0;
  write_image(dir / "p.png", torch::zeros({1, 3, 3}), options);
  Image p = read_image(dir / "p.png");
  EXPECT_EQ(p.meta.unit, "nm");
  EXPECT_NEAR(p.meta.pixel_size_x, 100.0, 1e-6);
}

// ---- TIFF files written with libtiff directly ----------------------------------

template <typename T>
void write_tiff_with_libtiff(const std::filesystem::path& path, const char* mode, uint16_t format, uint16_t spp,
                             uint16_t planar, uint16_t compression, bool tiled, uint32_t w, uint32_t h,
                             const std::vector<T>& interleaved_or_planar) {
  TIFF* t = TIFFOpen(path.string().c_str(), mode);
  ASSERT_NE(t, nullptr);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(sizeof(T) * 8));
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, format);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, planar);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, spp == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
  TIFFSetField(t, TIFFTAG_XRESOLUTION, 2.0e6f);  // pixels per cm -> 5 nm
  TIFFSetField(t, TIFFTAG_YRESOLUTION, 2.0e6f);
  TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
  const uint32_t planes = planar == PLANARCONFIG_SEPARATE ? spp : 1;
  const uint32_t per_pixel = planar == PLANARCONFIG_SEPARATE ? 1 : spp;
  if (tiled) {
    const uint32_t tw = 16, th = 16;
    TIFFSetField(t, TIFFTAG_TILEWIDTH, tw);
    TIFFSetField(t, TIFFTAG_TILELENGTH, th);
    std::vector<T> tile(tw * th * per_pixel);
    for (uint32_t p = 0; p < planes; ++p)
      for (uint32_t y0 = 0; y0 < h; y0 += th)
        for (uint32_t x0 = 0; x0 < w; x0 += tw) {
          std::fill(tile.begin(), tile.end(), T(0));
          for (uint32_t y = y0; y < std::min(h, y0 + th); ++y)
            for (uint32_t x = x0; x < std::min(w, x0 + tw); ++x)
              for (uint32_t c = 0; c < per_pixel; ++c)
                tile[((y - y0) * tw + (x - x0)) * per_pixel + c] =
                    interleaved_or_planar[p * w * h + (y * w + x) * per_pixel + c];
          ASSERT_GE(TIFFWriteTile(t, tile.data(), x0, y0, 0, static_cast<uint16_t>(p)), 0);
        }
  } else {
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 3u);
    for (uint32_t p = 0; p < planes; ++p)
      for (uint32_t y = 0; y < h; ++y)
        ASSERT_EQ(TIFFWriteScanline(t, const_cast<T*>(interleaved_or_planar.data()) + p * w * h + y * w * per_pixel, y,
                                    static_cast<uint16_t>(p)),
                  1);
  }
  TIFFClose(t);
}

TEST(IoFormats, ReadsTiffsWrittenByLibtiff) {
  const auto dir = emgan::test::temp_dir();
  const uint32_t w = 37, h = 21;
  {  // tiled float32, LZW, big-endian file
    std::vector<float> v(w * h);
    for (size_t i = 0; i < v.size(); ++i) v[i] = 0.001f * static_cast<float>(i) - 0.3f;
    write_tiff_with_libtiff(dir / "tiled.tif", "wb", SAMPLEFORMAT_IEEEFP, 1, PLANARCONFIG_CONTIG, COMPRESSION_LZW,
                            true, w, h, v);
    const Image im = read_image(dir / "tiled.tif");
    ASSERT_EQ(im.data.sizes(), (std::vector<int64_t>{1, h, w}));
    EXPECT_TRUE(torch::equal(im.data.flatten(), torch::from_blob(v.data(), {int64_t(v.size())})));
    EXPECT_EQ(im.meta.unit, "nm");
    EXPECT_NEAR(im.meta.pixel_size_x, 5.0, 1e-4);
  }
  {  // RGB uint8 stored as separate planes, Deflate
    std::vector<uint8_t> v(3 * w * h);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 7);
    write_tiff_with_libtiff(dir / "planar.tif", "w", SAMPLEFORMAT_UINT, 3, PLANARCONFIG_SEPARATE,
                            COMPRESSION_ADOBE_DEFLATE, false, w, h, v);
    const Image im = read_image(dir / "planar.tif");
    ASSERT_EQ(im.data.sizes(), (std::vector<int64_t>{3, h, w}));
    EXPECT_EQ(im.data[2][4][5].item<float>(), static_cast<float>(v[2 * w * h + 4 * w + 5]));
  }
  {  // RGB int16 interleaved, PackBits, tiled
    std::vector<int16_t> v(3 * w * h);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int16_t>(static_cast<int>(i) * 37 - 20000);
    write_tiff_with_libtiff(dir / "rgb16.tif", "w", SAMPLEFORMAT_INT, 3, PLANARCONFIG_CONTIG, COMPRESSION_PACKBITS,
                            true, w, h, v);
    const Image im = read_image(dir / "rgb16.tif");
    ASSERT_EQ(im.data.sizes(), (std::vector<int64_t>{3, h, w}));
    EXPECT_EQ(im.meta.dtype, "int16");
    EXPECT_EQ(im.data[1][20][36].item<float>(), static_cast<float>(v[(20 * w + 36) * 3 + 1]));
  }
  {  // float64, none
    std::vector<double> v(w * h, 0.125);
    v[5] = -1e300;
    write_tiff_with_libtiff(dir / "f64.tif", "w", SAMPLEFORMAT_IEEEFP, 1, PLANARCONFIG_CONTIG, COMPRESSION_NONE,
                            false, w, h, v);
    const Image im = read_image(dir / "f64.tif");
    EXPECT_EQ(im.meta.dtype, "float64");
    EXPECT_EQ(im.data.flatten()[5].item<float>(), -std::numeric_limits<float>::infinity());
    EXPECT_EQ(im.data.flatten()[6].item<float>(), 0.125f);
  }
}

TEST(IoFormats, TiffPagesOfDifferentSizesAreAnError) {
  const auto dir = emgan::test::temp_dir();
  const auto path = dir / "mixed.tif";
  TIFF* t = TIFFOpen(path.string().c_str(), "w");
  ASSERT_NE(t, nullptr);
  for (uint32_t w : {4u, 5u}) {
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 2u);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    std::vector<uint8_t> row(w, 1);
    for (uint32_t y = 0; y < 2; ++y) TIFFWriteScanline(t, row.data(), y, 0);
    TIFFWriteDirectory(t);
  }
  TIFFClose(t);
  try {
    read_image(path);
    FAIL() << "mixed page sizes accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("mixed.tif"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("same size"), std::string::npos) << e.what();
  }
}

// ---- PNG files written with libpng's simplified API ----------------------------

TEST(IoFormats, ReadsPngsWrittenByLibpng) {
  const int w = 6, h = 4;
  std::vector<uint8_t> rgb(w * h * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 11);
  for (png_uint_32 format : {png_uint_32(PNG_FORMAT_GRAY), png_uint_32(PNG_FORMAT_RGB)}) {
    png_image image;
    std::memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    image.width = w;
    image.height = h;
    image.format = format;
    png_alloc_size_t size = 0;
    ASSERT_TRUE(png_image_write_to_memory(&image, nullptr, &size, 0, rgb.data(), 0, nullptr));
    std::vector<uint8_t> bytes(size);
    ASSERT_TRUE(png_image_write_to_memory(&image, bytes.data(), &size, 0, rgb.data(), 0, nullptr));
    const RawImage im = decode_png(bytes.data(), size, "lib.png");
    const int64_t c = format == PNG_FORMAT_GRAY ? 1 : 3;
    ASSERT_EQ(im.channels, c);
    ASSERT_EQ(im.height, h);
    ASSERT_EQ(im.width, w);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int i = 0; i < w * h; ++i) ASSERT_EQ(im.data[ch * w * h + i], rgb[i * c + ch]);
  }
  {  // a palette image expands to RGB
    png_image image;
    std::memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    image.width = 2;
    image.height = 1;
    image.format = PNG_FORMAT_RGB_COLORMAP;
    image.colormap_entries = 2;
    const uint8_t colormap[] = {10, 20, 30, 200, 100, 50};
    const uint8_t indices[] = {1, 0};
    png_alloc_size_t size = 0;
    ASSERT_TRUE(png_image_write_to_memory(&image, nullptr, &size, 0, indices, 0, colormap));
    std::vector<uint8_t> bytes(size);
    ASSERT_TRUE(png_image_write_to_memory(&image, bytes.data(), &size, 0, indices, 0, colormap));
    const RawImage im = decode_png(bytes.data(), size, "palette.png");
    ASSERT_EQ(im.channels, 3);
    EXPECT_EQ(im.data, (std::vector<float>{200, 10, 100, 20, 50, 30}));
  }
}

// ---- NPY and MRC laid out by hand --------------------------------------------------

std::vector<uint8_t> npy_bytes(int version, const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(version), 0};
  const size_t len = header.size();
  out.push_back(static_cast<uint8_t>(len));
  out.push_back(static_cast<uint8_t>(len >> 8));
  if (version > 1) out.insert(out.end(), {0, 0});
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

TEST(IoFormats, ReadsNpyLaidOutByHand) {
  std::vector<double> f8 = {1.5, -2.0, 1e-5, -0.0, 3.0, 4.25};
  std::vector<uint8_t> data(48);
  std::memcpy(data.data(), f8.data(), 48);
  auto bytes = npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }        \n", data);
  RawImage im = decode_npy(bytes.data(), bytes.size(), "a.npy");
  EXPECT_EQ(im.height, 2);
  EXPECT_EQ(im.width, 3);
  EXPECT_FALSE(im.is_volume);
  EXPECT_EQ(im.meta.dtype, "float64");
  EXPECT_EQ(im.data, (std::vector<float>{1.5f, -2.0f, 1e-5f, -0.0f, 3.0f, 4.25f}));
  EXPECT_TRUE(std::signbit(im.data[3]));

  // Version 2, big-endian uint16, a (2, 1, 2) volume, double quotes, no trailing comma.
  bytes = npy_bytes(2, "{\"shape\": (2,1,2), \"fortran_order\": False, \"descr\": \">u2\"}\n",
                    {0x00, 0x01, 0xFF, 0xFF, 0x12, 0x34, 0x00, 0x00});
  im = decode_npy(bytes.data(), bytes.size(), "b.npy");
  EXPECT_TRUE(im.is_volume);
  EXPECT_EQ(im.depth, 2);
  EXPECT_EQ(im.data, (std::vector<float>{1.f, 65535.f, 4660.f, 0.f}));

  bytes = npy_bytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", {0, 0, 0, 0});
  try {
    decode_npy(bytes.data(), bytes.size(), "f.npy");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("Fortran"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f.npy"), std::string::npos) << e.what();
  }
  for (const std::string header :
       {"{'descr': '<c8', 'fortran_order': False, 'shape': (1, 1), }", "{'descr': '<f4', 'shape': (1, 1), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1), }", "{'descr': '<f4', 'fortran_order': Fals",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }", "not a dict", "",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }", "{'descr': 'f', 'fortran_order': 0, }"}) {
    bytes = npy_bytes(1, header, {0, 0, 0, 0});
    EXPECT_THROW(decode_npy(bytes.data(), bytes.size(), "bad.npy"), IoError) << header;
  }
}

std::vector<uint8_t> mrc_header(int32_t nx, int32_t ny, int32_t nz, int32_t mode, int32_t nsymbt, float cella_x) {
  std::vector<uint8_t> h(1024, 0);
  auto word = [&](int i, int32_t v) { std::memcpy(h.data() + 4 * i, &v, 4); };
  word(0, nx);
  word(1, ny);
  word(2, nz);
  word(3, mode);
  word(7, nx);
  word(8, ny);
  word(9, nz);
  std::memcpy(h.data() + 40, &cella_x, 4);
  word(16, 1);
  word(17, 2);
  word(18, 3);
  word(23, nsymbt);
  std::memcpy(h.data() + 208, "MAP ", 4);
  h[212] = 0x44;
  h[213] = 0x44;
  return h;
}

TEST(IoFormats, ReadsMrcLaidOutByHand) {
  // Mode 0 is signed int8; an extended header of 8 bytes is skipped.
  auto bytes = mrc_header(3, 2, 1, 0, 8, 6.0f);
  bytes.insert(bytes.end(), 8, 0xEE);
  for (int8_t v : {-128, -1, 0, 1, 64, 127}) bytes.push_back(static_cast<uint8_t>(v));
  RawImage im = decode_mrc(bytes.data(), bytes.size(), "a.mrc");
  EXPECT_EQ(im.meta.dtype, "int8");
  EXPECT_FALSE(im.is_volume);
  EXPECT_EQ(im.data, (std::vector<float>{-128, -1, 0, 1, 64, 127}));
  EXPECT_NEAR(im.meta.pixel_size_x, 2.0, 1e-6);  // 6 Å / 3 pixels
  // Mode 1 and 6 volumes.
  for (int32_t mode : {1, 6}) {
    bytes = mrc_header(2, 1, 2, mode, 0, 0.f);
    const std::vector<uint16_t> raw = {1, 40000, 65535, 7};
    const size_t at = bytes.size();
    bytes.resize(at + 8);
    std::memcpy(bytes.data() + at, raw.data(), 8);
    im = decode_mrc(bytes.data(), bytes.size(), "v.mrc");
    EXPECT_TRUE(im.is_volume);
    EXPECT_EQ(im.depth, 2);
    const std::vector<float> expected =
        mode == 6 ? std::vector<float>{1, 40000, 65535, 7} : std::vector<float>{1, 40000 - 65536, -1, 7};
    EXPECT_EQ(im.data, expected);
    EXPECT_EQ(im.meta.pixel_size_x, 0.0);
  }
  // Mode 2 float32, one byte missing, one byte too many, unknown mode.
  bytes = mrc_header(2, 2, 1, 2, 0, 0.f);
  bytes.resize(1024 + 16);
  EXPECT_NO_THROW(decode_mrc(bytes.data(), bytes.size(), "ok.mrc"));
  EXPECT_THROW(decode_mrc(bytes.data(), bytes.size() - 1, "short.mrc"), IoError);
  bytes.push_back(0);
  EXPECT_THROW(decode_mrc(bytes.data(), bytes.size(), "long.mrc"), IoError);
  bytes = mrc_header(2, 2, 1, 4, 0, 0.f);
  bytes.resize(1024 + 32);
  try {
    decode_mrc(bytes.data(), bytes.size(), "complex.mrc");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("mode 4"), std::string::npos) << e.what();
  }
}

// ---- text ---------------------------------------------------------------------------

TEST(IoFormats, ParsesTextArrays) {
  const std::string ok = "# a comment\n1e-5, -0.0,3\r\n  +4.5\t-6E+2   7.25  \n\n";
  RawImage im = decode_text(reinterpret_cast<const uint8_t*>(ok.data()), ok.size(), "a.txt");
  EXPECT_EQ(im.height, 2);
  EXPECT_EQ(im.width, 3);
  EXPECT_EQ(im.data, (std::vector<float>{1e-5f, -0.0f, 3.f, 4.5f, -600.f, 7.25f}));
  EXPECT_TRUE(std::signbit(im.data[1]));
  const std::string tiny = "1e-400 2\n";  // underflow to 0 is fine
  im = decode_text(reinterpret_cast<const uint8_t*>(tiny.data()), tiny.size(), "tiny.txt");
  EXPECT_EQ(im.data[0], 0.f);

  auto message = [](const std::string& text) {
    try {
      decode_text(reinterpret_cast<const uint8_t*>(text.data()), text.size(), "bad.txt");
    } catch (const IoError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string m = message("1 2 3\n4 5 6\n7 8\n");
  EXPECT_NE(m.find("bad.txt: line 3"), std::string::npos) << m;
  EXPECT_NE(m.find("ragged"), std::string::npos) << m;
  m = message("1 2 3\n4 5x 6\n");
  EXPECT_NE(m.find("line 2, column 3"), std::string::npos) << m;
  EXPECT_NE(m.find("'5x'"), std::string::npos) << m;
  m = message("1,,2\n");
  EXPECT_NE(m.find("line 1, column 3"), std::string::npos) << m;
  m = message("1e39\n");
  EXPECT_NE(m.find("float32 range"), std::string::npos) << m;
  EXPECT_NE(message("\n# only a comment\n").find("no numbers"), std::string::npos);
}

// ---- convert ------------------------------------------------------------------------

TEST(IoFormats, ConvertSlicesScalesAndWarns) {
  const auto dir = emgan::test::temp_dir();
  const torch::Tensor vol = torch::arange(3 * 4 * 5).to(torch::kFloat32).reshape({1, 3, 4, 5}) * 0.5f;
  WriteOptions meta;
  meta.meta.unit = "nm";
  meta.meta.pixel_size_x = 1;
  meta.meta.pixel_size_y = 2;
  meta.meta.pixel_size_z = 3;
  write_image(dir / "v.tif", vol.narrow(0, 0, 1), meta);

  ConvertOptions o;
  o.slice_axis = "z";
  o.slice_index = -1;
  ConvertResult r = convert(dir / "v.tif", dir / "z.npy", o);
  EXPECT_EQ(r.output_shape, (std::vector<int64_t>{1, 4, 5}));
  EXPECT_EQ(r.output_dtype, "float32");
  EXPECT_TRUE(torch::equal(read_image(dir / "z.npy").data, vol[0][2].unsqueeze(0)));

  o.slice_axis = "y";
  o.slice_index = 1;
  r = convert(dir / "v.tif", dir / "y.tif", o);
  const Image y = read_image(dir / "y.tif");
  EXPECT_TRUE(torch::equal(y.data, vol.select(2, 1)));
  EXPECT_NEAR(y.meta.pixel_size_y, 3.0, 1e-6);  // rows of a y-slice run along z

  o.slice_axis = "x";
  o.slice_index = 4;
  r = convert(dir / "v.tif", dir / "x.png", o);  // float -> PNG: auto uint8 with min-max
  EXPECT_EQ(r.output_dtype, "uint8");
  EXPECT_EQ(r.scale, "minmax");
  const Image x = read_image(dir / "x.png");
  ASSERT_EQ(x.data.sizes(), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(x.data.min().item<float>(), 0.f);
  EXPECT_EQ(x.data.max().item<float>(), 255.f);

  o.slice_axis = "none";
  o.dtype = "uint8";
  o.scale = "none";
  write_image(dir / "big.tif", torch::full({1, 2, 2}, 300.f));
  r = convert(dir / "big.tif", dir / "big.png", o);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("clamped"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(read_image(dir / "big.png").data.max().item<float>(), 255.f);

  // A uint8 file keeps its values through "auto".
  WriteOptions u8;
  u8.dtype = "uint8";
  write_image(dir / "u8.tif", torch::tensor({0.f, 85.f, 170.f, 3.f}).reshape({1, 2, 2}), u8);
  r = convert(dir / "u8.tif", dir / "u8.png");
  EXPECT_EQ(r.scale, "none");
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_TRUE(torch::equal(read_image(dir / "u8.png").data, read_image(dir / "u8.tif").data));

  ConvertOptions bad;
  bad.slice_axis = "w";
  EXPECT_THROW(convert(dir / "v.tif", dir / "o.tif", bad), ConfigError);
  bad = {};
  bad.slice_axis = "z";
  bad.slice_index = 3;
  try {
    convert(dir / "v.tif", dir / "o.tif", bad);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("slice_index = 3"), std::string::npos) << e.what();
  }
  bad = {};
  bad.slice_axis = "z";
  EXPECT_THROW(convert(dir / "u8.tif", dir / "o.tif", bad), ConfigError);  // 2D input
  bad = {};
  bad.dtype = "float32";
  EXPECT_THROW(convert(dir / "u8.tif", dir / "o.png", bad), ConfigError);
  EXPECT_FALSE(std::filesystem::exists(dir / "o.png"));
  // Settings round-trip through JSON (the CLI's --config).
  const ConvertOptions parsed = emgan::settings_from_json<ConvertOptions>(
      nlohmann::json{{"slice_axis", "y"}, {"slice_index", 2}}, "test");
  EXPECT_EQ(parsed.slice_axis, "y");
  EXPECT_EQ(parsed.slice_index, 2);
  EXPECT_EQ(parsed.scale, "auto");
}

}  // namespace
