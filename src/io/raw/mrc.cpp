// MRC/CCP4 (MRC2014): a 1024-byte header of 4-byte words, an optional extended
// header of nsymbt bytes, then nx*ny*nz samples, x fastest.
#include <algorithm>

#include "common.h"

namespace emgan::io {

namespace {

constexpr size_t kHeaderBytes = 1024;
constexpr int32_t kImodStamp = 1146047817;  // "IMOD" stamp at word 38

std::string mode_dtype(int32_t mode, bool imod_unsigned_bytes) {
  switch (mode) {
    case 0: return imod_unsigned_bytes ? "uint8" : "int8";
    case 1: return "int16";
    case 2: return "float32";
    case 6: return "uint16";
    default: return "";
  }
}

bool plausible_mode(int32_t mode) { return mode >= 0 && mode <= 12; }

}  // namespace

RawImage decode_mrc(const uint8_t* data, size_t size, const std::string& name,
                    const DecodeOptions& options) {
  EMGAN_CHECK(IoError, size >= kHeaderBytes, name, ": truncated file: ", size,
              " bytes is shorter than the 1024-byte MRC header");
  // Byte order: MACHST (offset 212) says 0x44 0x4? for little endian, 0x11 0x11 for
  // big endian; when it is absent, the mode word decides.
  bool little = true;
  if (data[212] == 0x11 && data[213] == 0x11) {
    little = false;
  } else if (!(data[212] == 0x44 && (data[213] == 0x44 || data[213] == 0x41))) {
    little = plausible_mode(detail::load<int32_t>(data + 12, true)) ||
             !plausible_mode(detail::load<int32_t>(data + 12, false));
  }
  auto word = [&](int i) { return detail::load<int32_t>(data + 4 * i, little); };
  auto real = [&](int i) { return detail::load<float>(data + 4 * i, little); };
  const int32_t nx = word(0), ny = word(1), nz = word(2), mode = word(3);
  const int32_t mx = word(7), my = word(8), mz = word(9);
  const float cella_x = real(10), cella_y = real(11), cella_z = real(12);
  const int32_t mapc = word(16), mapr = word(17), maps = word(18);
  const int32_t nsymbt = word(23);
  const bool imod_unsigned = word(38) == kImodStamp && (word(39) & 1) == 0;
  const std::string dtype = mode_dtype(mode, imod_unsigned);
  EMGAN_CHECK(IoError, !dtype.empty(), name, ": MRC mode ", mode,
              " is not supported (expected 0 int8, 1 int16, 2 float32 or 6 uint16)");
  EMGAN_CHECK(IoError, nx > 0 && ny > 0 && nz > 0, name, ": invalid MRC size nx=", nx, " ny=", ny, " nz=", nz);
  EMGAN_CHECK(IoError, (mapc == 0 && mapr == 0 && maps == 0) || (mapc == 1 && mapr == 2 && maps == 3), name,
              ": axis order mapc/mapr/maps = ", mapc, "/", mapr, "/", maps, " is not supported (expected 1/2/3)");
  EMGAN_CHECK(IoError, nsymbt >= 0, name, ": negative extended header size nsymbt=", nsymbt);
  const int64_t n = detail::check_shape(name, 1, nz, ny, nx, options);
  const size_t item = detail::dtype_size(dtype);
  const uint64_t expected = kHeaderBytes + static_cast<uint64_t>(nsymbt) + static_cast<uint64_t>(n) * item;
  EMGAN_CHECK(IoError, size == expected, name, ": file has ", size, " bytes but its header (", nx, " x ", ny,
              " x ", nz, " of ", dtype, ", extended header ", nsymbt, " bytes) needs ", expected,
              size < expected ? " (truncated file)" : " (trailing bytes or wrong header)");

  RawImage image;
  image.meta.format = "mrc";
  image.meta.dtype = dtype;
  image.depth = nz;
  image.height = ny;
  image.width = nx;
  image.is_volume = nz > 1;
  image.data.resize(static_cast<size_t>(n));
  detail::convert_named(dtype, data + kHeaderBytes + nsymbt, static_cast<size_t>(n), little, image.data.data());
  auto size_of = [](float cell, int32_t m) {
    return (std::isfinite(cell) && cell > 0.f && m > 0) ? static_cast<double>(cell) / m : 0.0;
  };
  image.meta.pixel_size_x = size_of(cella_x, mx);
  image.meta.pixel_size_y = size_of(cella_y, my);
  image.meta.pixel_size_z = size_of(cella_z, mz);
  if (image.meta.pixel_size_x > 0) image.meta.unit = "\xC3\x85";
  image.meta.extra["mode"] = mode;
  image.meta.extra["little_endian"] = little;
  image.meta.extra["extended_header_bytes"] = nsymbt;
  return image;
}

std::vector<uint8_t> encode_mrc(const RawImage& image, const EncodeOptions& options,
                                const std::string& name) {
  detail::check_encodable(image, "mrc", options, name);
  EMGAN_CHECK(ConfigError, image.channels == 1, name, ": MRC is written with one channel, got ", image.channels,
              " (take a channel first, or write TIFF)");
  EMGAN_CHECK(ConfigError, image.width <= 0x7fffffff && image.height <= 0x7fffffff && image.depth <= 0x7fffffff,
              name, ": image too large for MRC");
  int32_t mode = 2;
  if (options.dtype == "int8") mode = 0;
  if (options.dtype == "int16") mode = 1;
  if (options.dtype == "uint16") mode = 6;
  const size_t item = detail::dtype_size(options.dtype);
  std::vector<uint8_t> out(kHeaderBytes + image.data.size() * item, 0);
  auto set_word = [&](int i, int32_t v) { detail::store<int32_t>(out.data() + 4 * i, v, true); };
  auto set_real = [&](int i, float v) { detail::store<float>(out.data() + 4 * i, v, true); };
  const auto nx = static_cast<int32_t>(image.width), ny = static_cast<int32_t>(image.height),
             nz = static_cast<int32_t>(image.depth);
  set_word(0, nx);
  set_word(1, ny);
  set_word(2, nz);
  set_word(3, mode);
  set_word(7, nx);
  set_word(8, ny);
  set_word(9, nz);
  const double angstrom = nanometres_per_unit(image.meta.unit) * 10.0;
  const ImageMeta& m = image.meta;
  if (angstrom > 0 && m.pixel_size_x > 0) {
    const double py = m.pixel_size_y > 0 ? m.pixel_size_y : m.pixel_size_x;
    const double pz = m.pixel_size_z > 0 ? m.pixel_size_z : m.pixel_size_x;
    set_real(10, static_cast<float>(m.pixel_size_x * angstrom * nx));
    set_real(11, static_cast<float>(py * angstrom * ny));
    set_real(12, static_cast<float>(pz * angstrom * nz));
  }
  set_real(13, 90.f);
  set_real(14, 90.f);
  set_real(15, 90.f);
  set_word(16, 1);
  set_word(17, 2);
  set_word(18, 3);
  // Statistics of the values as written.
  double lo = 0, hi = 0, sum = 0, sq = 0;
  const auto range = dtype_range(options.dtype);
  for (size_t i = 0; i < image.data.size(); ++i) {
    double v = image.data[i];
    if (options.dtype != "float32") v = std::isnan(v) ? 0.0 : std::clamp(std::nearbyint(v), range.first, range.second);
    if (i == 0 || v < lo) lo = v;
    if (i == 0 || v > hi) hi = v;
    sum += v;
    sq += v * v;
  }
  const double count = static_cast<double>(image.data.size());
  const double mean = sum / count;
  set_real(19, static_cast<float>(lo));
  set_real(20, static_cast<float>(hi));
  set_real(21, static_cast<float>(mean));
  set_word(22, image.is_volume ? 1 : 0);  // space group: 0 image/stack, 1 volume
  std::memcpy(out.data() + 104, "MRCO", 4);  // EXTTYP (no extended header)
  set_word(27, 20140);                        // NVERSION
  std::memcpy(out.data() + 208, "MAP ", 4);
  out[212] = 0x44;
  out[213] = 0x44;
  set_real(54, static_cast<float>(std::sqrt(std::max(0.0, sq / count - mean * mean))));
  set_word(55, 1);
  const char label[] = "emgan";
  std::memcpy(out.data() + 224, label, sizeof(label) - 1);
  detail::encode_named(options.dtype, image.data.data(), image.data.size(), true, out.data() + kHeaderBytes);
  return out;
}

}  // namespace emgan::io
