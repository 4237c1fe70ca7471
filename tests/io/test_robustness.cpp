// DigitalMicrograph files written byte by byte from the format description;
// truncated and corrupted files of every format; every real file of ../shared/data.
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <regex>
#include <set>

#include "dm_builder.h"
#include "emgan/io/formats.h"
#include "emgan/io/image.h"
#include "test_util.h"

namespace {

using emgan::IoError;
using namespace emgan::io;
namespace dm = emgan::test::dm;

std::vector<uint8_t> float_bytes(const std::vector<float>& v) { return dm::le_bytes(v); }

TEST(IoDm, ReadsDm3AndDm4Float32Images) {
  const int32_t w = 5, h = 3;
  std::vector<float> values(w * h);
  for (int i = 0; i < w * h; ++i) values[i] = 0.5f * static_cast<float>(i) - 2.f;
  const auto entry = dm::image_entry({w, h}, 2, 6, float_bytes(values), values.size(), {0.5f, 0.25f}, u"nm");
  for (int version : {3, 4}) {
    SCOPED_TRACE(version);
    const auto bytes = dm::image_file(entry, version);
    const std::string name = "image.dm" + std::to_string(version);
    const RawImage im = decode_dm(bytes.data(), bytes.size(), name);
    EXPECT_EQ(im.channels, 1);
    EXPECT_EQ(im.height, h);
    EXPECT_EQ(im.width, w);
    EXPECT_FALSE(im.is_volume);
    EXPECT_EQ(im.data, values);
    EXPECT_EQ(im.meta.format, "dm" + std::to_string(version));
    EXPECT_EQ(im.meta.dtype, "float32");
    EXPECT_EQ(im.meta.unit, "nm");
    EXPECT_FLOAT_EQ(im.meta.pixel_size_x, 0.5);
    EXPECT_FLOAT_EQ(im.meta.pixel_size_y, 0.25);
  }
}

TEST(IoDm, ReadsDm3AndDm4Uint16AndInt16Volumes) {
  const int32_t w = 4, h = 3, d = 2;
  std::vector<uint16_t> u16(w * h * d);
  for (size_t i = 0; i < u16.size(); ++i) u16[i] = static_cast<uint16_t>(i * 2800);
  std::vector<int16_t> i16(w * h * d);
  for (size_t i = 0; i < i16.size(); ++i) i16[i] = static_cast<int16_t>(static_cast<int>(i) * 1000 - 12000);
  const auto u_entry = dm::image_entry({w, h, d}, 10, 4, dm::le_bytes(u16), u16.size(), {2.f, 3.f, 4.f}, u"\u00b5m");
  const auto i_entry = dm::image_entry({w, h, d}, 1, 2, dm::le_bytes(i16), i16.size(), {1.f, 1.f, 1.f}, u"\u00c5");
  const auto dir = emgan::test::temp_dir();
  for (int version : {3, 4}) {
    SCOPED_TRACE(version);
    const auto path = dir / ("vol.dm" + std::to_string(version));
    const auto bytes = dm::image_file(u_entry, version);
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const Image im = read_image(path);  // through the torch API and the extension
    ASSERT_EQ(im.data.sizes(), (std::vector<int64_t>{1, d, h, w}));
    EXPECT_EQ(im.meta.dtype, "uint16");
    EXPECT_EQ(im.data[0][1][2][3].item<float>(), static_cast<float>(u16[(1 * h + 2) * w + 3]));
    EXPECT_EQ(im.meta.unit, "\xC2\xB5m");
    EXPECT_FLOAT_EQ(im.meta.pixel_size_x, 2.0);
    EXPECT_FLOAT_EQ(im.meta.pixel_size_y, 3.0);
    EXPECT_FLOAT_EQ(im.meta.pixel_size_z, 4.0);

    const auto ib = dm::image_file(i_entry, version);
    const RawImage ri = decode_dm(ib.data(), ib.size(), "i16.dm");
    EXPECT_EQ(ri.meta.dtype, "int16");
    EXPECT_EQ(ri.meta.unit, "\xC3\x85");
    EXPECT_EQ(ri.data.front(), -12000.f);
    EXPECT_EQ(ri.data.back(), static_cast<float>(i16.back()));
  }
}

TEST(IoDm, RejectsInconsistentOrHostileFiles) {
  auto message = [](const std::vector<uint8_t>& bytes) {
    try {
      decode_dm(bytes.data(), bytes.size(), "hostile.dm3");
    } catch (const IoError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // Data shorter than Dimensions * type size.
  auto entry = dm::image_entry({4, 4}, 2, 6, float_bytes(std::vector<float>(15)), 15, {1.f, 1.f}, u"nm");
  EXPECT_NE(message(dm::image_file(entry, 3)).find("needs 64"), std::string::npos);
  // Complex data.
  entry = dm::image_entry({4, 4}, 3, 6, float_bytes(std::vector<float>(32)), 32, {1.f, 1.f}, u"nm");
  EXPECT_NE(message(dm::image_file(entry, 4)).find("complex"), std::string::npos);
  // Groups nested 1000 deep.
  emgan::test::DmTag deep = dm::group("x", {});
  for (int i = 0; i < 1000; ++i) deep = dm::group("x", {deep});
  EXPECT_NE(message(dm::file(dm::group("", {deep}), 3)).find("nested deeper"), std::string::npos);
  // An array claiming 2^40 elements.
  std::vector<uint8_t> huge = dm::file(dm::group("", {dm::array("Data", 6, uint64_t(1) << 40, {1, 2, 3, 4})}), 4);
  EXPECT_NE(message(huge).find("hostile.dm3"), std::string::npos);
  // A group claiming 2^31 tags.
  std::vector<uint8_t> many = {0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0x7f, 0xff, 0xff, 0xff};
  EXPECT_NE(message(many).find("more than the file can hold"), std::string::npos);
  // Wrong version, no ImageList.
  EXPECT_NE(message({0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1}).find("version 5"), std::string::npos);
  EXPECT_NE(message(dm::file(dm::group("", {dm::long_value("A", 1)}), 3)).find("ImageList"), std::string::npos);
}

// ---- truncated and corrupted files of every format ----------------------------------

struct Sample {
  std::string format;
  std::string name;
  std::vector<uint8_t> bytes;
};

std::vector<Sample> valid_samples() {
  RawImage im;
  im.height = 9;
  im.width = 11;
  im.data.resize(99);
  for (size_t i = 0; i < im.data.size(); ++i) im.data[i] = static_cast<float>((i * 37) % 200);
  RawImage vol = im;
  vol.is_volume = true;
  vol.depth = 3;
  vol.data.resize(297);
  for (size_t i = 0; i < vol.data.size(); ++i) vol.data[i] = static_cast<float>(i % 256);
  RawImage rgb = im;
  rgb.channels = 3;
  rgb.data.resize(297, 5.f);
  auto enc = [](const RawImage& r, const std::string& format, const std::string& dtype,
                const std::string& compression = "none") {
    EncodeOptions o;
    o.dtype = dtype;
    o.compression = compression;
    return encode_image(r, format, o, "sample");
  };
  std::vector<Sample> s;
  s.push_back({"tiff", "plain.tif", enc(im, "tiff", "float32")});
  s.push_back({"tiff", "deflate.tif", enc(vol, "tiff", "uint16", "deflate")});
  s.push_back({"tiff", "lzw.tif", enc(rgb, "tiff", "uint8", "lzw")});
  s.push_back({"tiff", "packbits.tif", enc(vol, "tiff", "uint8", "packbits")});
  s.push_back({"png", "grey.png", enc(im, "png", "uint8")});
  s.push_back({"png", "rgb16.png", enc(rgb, "png", "uint16")});
  s.push_back({"npy", "img.npy", enc(im, "npy", "float32")});
  s.push_back({"npy", "vol.npy", enc(vol, "npy", "uint16")});
  s.push_back({"mrc", "img.mrc", enc(im, "mrc", "int16")});
  s.push_back({"mrc", "vol.mrc", enc(vol, "mrc", "float32")});
  s.push_back({"text", "img.txt", enc(im, "text", "float32")});
  std::vector<float> f(6 * 4, 1.5f);
  s.push_back({"dm", "img.dm3", dm::image_file(dm::image_entry({6, 4}, 2, 6, float_bytes(f), f.size(), {1.f, 1.f}, u"nm"), 3)});
  s.push_back({"dm", "img.dm4", dm::image_file(dm::image_entry({6, 4}, 2, 6, float_bytes(f), f.size(), {1.f, 1.f}, u"nm"), 4)});
  return s;
}

/// Decodes; returns "" on success with a consistent image (stored in `out`), the
/// error otherwise. Any exception other than IoError fails the test.
std::string try_decode(const Sample& s, const std::vector<uint8_t>& bytes, RawImage* out = nullptr) {
  try {
    DecodeOptions limits;
    limits.max_samples = 1 << 22;
    RawImage im = decode_image(bytes.data(), bytes.size(), s.format, s.name, limits);
    EXPECT_EQ(im.data.size(), static_cast<size_t>(im.channels * im.depth * im.height * im.width)) << s.name;
    if (out) *out = std::move(im);
    return "";
  } catch (const IoError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << s.name << ": not an IoError: " << e.what();
    return e.what();
  }
}

bool same_image(const RawImage& a, const RawImage& b) {
  return a.channels == b.channels && a.depth == b.depth && a.height == b.height && a.width == b.width &&
         a.data == b.data;
}

TEST(IoRobustness, TruncatedFilesThrowIoErrorNamingTheFile) {
  for (const Sample& s : valid_samples()) {
    SCOPED_TRACE(s.name);
    RawImage whole;
    ASSERT_EQ(try_decode(s, s.bytes, &whole), "");
    const size_t n = s.bytes.size();
    std::set<size_t> lengths = {0, 1, 4, 7, 8, 16, 100, n / 4, n / 2, 3 * n / 4, n - 9, n - 2, n - 1};
    for (size_t len : lengths) {
      if (len >= n) continue;
      std::vector<uint8_t> cut(s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(len));
      RawImage part;
      const std::string err = try_decode(s, cut, &part);
      if (s.format == "text" && err.empty()) continue;  // a text cut at a line end is a smaller valid array
      // Only what follows the image may be lost without an error (TIFF: the trailing
      // Software string, which libtiff skips; DM: the 8 zero bytes that end the file).
      if (err.empty() && same_image(part, whole)) continue;
      EXPECT_NE(err, "") << "truncated to " << len << " of " << n << " bytes gave a different image";
      EXPECT_EQ(err.rfind(s.name, 0), 0u) << err;
    }
  }
}

TEST(IoRobustness, CorruptedFilesNeverCrash) {
  std::mt19937 rng(1234);
  int errors = 0, accepted = 0;
  for (const Sample& s : valid_samples()) {
    SCOPED_TRACE(s.name);
    std::uniform_int_distribution<size_t> pos(0, s.bytes.size() - 1);
    std::uniform_int_distribution<int> bit(0, 7);
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> b = s.bytes;
      const int flips = 1 + trial % 4;
      for (int k = 0; k < flips; ++k) b[pos(rng)] ^= static_cast<uint8_t>(1 << bit(rng));
      if (trial % 10 == 0) b[pos(rng) % std::min<size_t>(b.size(), 64)] = 0xFF;  // hit the header
      const std::string err = try_decode(s, b);
      if (err.empty()) {
        ++accepted;
      } else {
        ++errors;
        EXPECT_EQ(err.rfind(s.name, 0), 0u) << err;
      }
    }
  }
  EXPECT_GT(errors, 100);  // the corruption did reach the parsers
  EXPECT_GT(accepted, 0);  // flips in sample data are legitimately undetectable
}

TEST(IoRobustness, CorruptHeadersAreNamedErrors) {
  const auto samples = valid_samples();
  auto expect_error = [](const Sample& s, std::vector<uint8_t> b, size_t at, uint8_t value, const std::string& what) {
    b[at] = value;
    const std::string err = try_decode(s, b);
    EXPECT_EQ(err.rfind(s.name, 0), 0u) << err;
    EXPECT_NE(err.find(what), std::string::npos) << err;
  };
  expect_error(samples[0], samples[0].bytes, 0, 'X', "not a TIFF");
  expect_error(samples[4], samples[4].bytes, 1, 'X', "not a PNG");
  expect_error(samples[6], samples[6].bytes, 1, 'X', "not a NumPy");
  expect_error(samples[8], samples[8].bytes, 12, 9, "mode 9");
  expect_error(samples[11], samples[11].bytes, 3, 7, "version 7");
}

// ---- every real file of ../shared/data ---------------------------------------------

TEST(IoShared, ReadsEveryTiff) {
  EMGAN_REQUIRE_SHARED("");
  int count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(emgan::test::shared_data())) {
    const std::string ext = emgan::lower_extension(entry.path());
    if (ext != "tif" && ext != "tiff") continue;
    SCOPED_TRACE(entry.path().string());
    const Image im = read_image(entry.path());
    ++count;
    const std::string file = entry.path().filename().string();
    if (file == "electrode-3phase-256cube.tiff") {
      ASSERT_EQ(im.data.sizes(), (std::vector<int64_t>{1, 256, 256, 256}));
      EXPECT_EQ(im.meta.dtype, "uint8");
      const auto is0 = im.data == 0, is85 = im.data == 85, is170 = im.data == 170;
      EXPECT_TRUE((is0 | is85 | is170).all().item<bool>());
      EXPECT_TRUE(is85.any().item<bool>() && is170.any().item<bool>());
      const double phase0 = (im.data == 0).to(torch::kFloat64).mean().item<double>();
      EXPECT_NEAR(phase0, 0.45, 0.02);
    } else if (entry.path().parent_path().filename() == "partial-stem-examples") {
      ASSERT_EQ(im.data.sizes(), (std::vector<int64_t>{1, 512, 512}));
      EXPECT_EQ(im.meta.dtype, "float32");
      EXPECT_GE(im.data.min().item<float>(), 0.f);
      EXPECT_LE(im.data.max().item<float>(), 1.f);
      if (file.rfind("truth", 0) == 0) {
        EXPECT_GT(im.data.std().item<float>(), 0.01f);
      }
    } else {
      ASSERT_EQ(im.data.dim(), 3);
      EXPECT_EQ(im.data.size(0), 1);
      EXPECT_GE(im.data.size(1), 190);
      EXPECT_LE(im.data.size(1), 270);
      EXPECT_EQ(im.meta.dtype, "float32");
      EXPECT_GT(im.data.max().item<float>(), 1e-4f);
      EXPECT_LT(im.data.max().item<float>(), 1.f);
    }
  }
  EXPECT_EQ(count, 56);
}

TEST(IoShared, ReadsEveryConvolutionTextWithTheShapeOfItsTiff) {
  EMGAN_REQUIRE_SHARED("stem-conv2multislice");
  const auto root = emgan::test::shared_data() / "stem-conv2multislice";
  const std::regex id_re(".*_convolution_([0-9]+)\\.txt");
  int count = 0;
  for (const auto& material : std::filesystem::directory_iterator(root)) {
    if (!material.is_directory()) continue;
    std::filesystem::path conv_dir, ms_dir;
    for (const auto& sub : std::filesystem::directory_iterator(material.path())) {
      const std::string n = sub.path().filename().string();
      if (n.find("convolution") != std::string::npos) conv_dir = sub.path();
      if (n.find("multislice") != std::string::npos) ms_dir = sub.path();
    }
    ASSERT_FALSE(conv_dir.empty() || ms_dir.empty()) << material.path();
    for (const auto& txt : std::filesystem::directory_iterator(conv_dir)) {
      std::smatch m;
      const std::string n = txt.path().filename().string();
      if (!std::regex_match(n, m, id_re)) continue;
      std::filesystem::path tif;
      for (const auto& f : std::filesystem::directory_iterator(ms_dir)) {
        const std::string fn = f.path().filename().string();
        const std::string suffix = "_" + m[1].str() + "_cl160mm_ss.tif";
        if (fn.size() > suffix.size() && fn.compare(fn.size() - suffix.size(), suffix.size(), suffix) == 0) tif = f.path();
      }
      ASSERT_FALSE(tif.empty()) << "no multislice partner for " << txt.path();
      SCOPED_TRACE(txt.path().string());
      const Image conv = read_image(txt.path());
      const Image ms = read_image(tif);
      EXPECT_EQ(conv.data.sizes(), ms.data.sizes());
      EXPECT_EQ(conv.meta.format, "text");
      EXPECT_TRUE(torch::isfinite(conv.data).all().item<bool>());
      EXPECT_GT(conv.data.abs().max().item<float>(), 0.f);
      ++count;
    }
  }
  EXPECT_EQ(count, 40);
}

}  // namespace
