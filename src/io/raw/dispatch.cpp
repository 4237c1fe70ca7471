// Choosing a decoder/encoder by extension, reading and writing whole files, and the
// sample-type helpers shared by the encoders.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "common.h"

namespace emgan::io {

namespace {

struct ExtensionFormat {
  const char* extension;
  const char* format;
  bool writable;
};

constexpr ExtensionFormat kExtensions[] = {
    {"tif", "tiff", true}, {"tiff", "tiff", true}, {"png", "png", true},
    {"txt", "text", true}, {"csv", "text", true},  {"dat", "text", true},
    {"npy", "npy", true},  {"mrc", "mrc", true},   {"map", "mrc", true},
    {"st", "mrc", true},   {"ccp4", "mrc", true},  {"dm3", "dm", false},
    {"dm4", "dm", false},
};

}  // namespace

std::string format_for_extension(const std::string& extension) {
  for (const auto& e : kExtensions)
    if (extension == e.extension) return e.format;
  return "";
}

std::vector<std::string> supported_read_extensions() {
  std::vector<std::string> out;
  for (const auto& e : kExtensions) out.emplace_back(e.extension);
  return out;
}

std::vector<std::string> supported_write_extensions() {
  std::vector<std::string> out;
  for (const auto& e : kExtensions)
    if (e.writable) out.emplace_back(e.extension);
  return out;
}

RawImage decode_image(const uint8_t* data, size_t size, const std::string& format,
                      const std::string& name, const DecodeOptions& options) {
  if (format == "tiff") return decode_tiff(data, size, name, options);
  if (format == "png") return decode_png(data, size, name, options);
  if (format == "text") return decode_text(data, size, name, options);
  if (format == "npy") return decode_npy(data, size, name, options);
  if (format == "mrc") return decode_mrc(data, size, name, options);
  if (format == "dm") return decode_dm(data, size, name, options);
  throw IoError(name + ": unknown image format '" + format + "'");
}

RawImage read_raw_image(const fs::path& path, const DecodeOptions& options) {
  const std::string ext = lower_extension(path);
  const std::string format = format_for_extension(ext);
  EMGAN_CHECK(IoError, !format.empty(), path.string(), ": unsupported file extension '", ext,
              "' (readable: ", detail::join_list(supported_read_extensions()), ")");
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), format, path.string(), options);
}

std::vector<std::string> writable_dtypes(const std::string& format) {
  if (format == "tiff") return {"uint8", "uint16", "int16", "float32"};
  if (format == "png") return {"uint8", "uint16"};
  if (format == "npy") return {"uint8", "uint16", "int16", "float32", "float64"};
  if (format == "mrc") return {"int8", "int16", "uint16", "float32"};
  if (format == "text") return {"float32"};
  return {};
}

namespace detail {

void check_encodable(const RawImage& image, const std::string& format, const EncodeOptions& options,
                     const std::string& name) {
  const auto dtypes = writable_dtypes(format);
  EMGAN_CHECK(ConfigError, std::find(dtypes.begin(), dtypes.end(), options.dtype) != dtypes.end(),
              name, ": cannot write sample type '", options.dtype, "' as ", format,
              " (possible: ", join_list(dtypes), ")");
  EMGAN_CHECK(ConfigError,
              image.channels > 0 && image.depth > 0 && image.height > 0 && image.width > 0, name,
              ": cannot write an empty image (", image.channels, " x ", image.depth, " x ",
              image.height, " x ", image.width, ")");
  const int64_t n = checked_product({image.channels, image.depth, image.height, image.width},
                                    std::numeric_limits<int64_t>::max());
  EMGAN_CHECK(ConfigError, n >= 0 && static_cast<uint64_t>(n) == image.data.size(), name,
              ": image data holds ", image.data.size(), " samples but its shape ", image.channels,
              " x ", image.depth, " x ", image.height, " x ", image.width, " needs ", n);
  EMGAN_CHECK(ConfigError, image.is_volume || image.depth == 1, name,
              ": an image that is not a volume must have depth 1, got ", image.depth);
}

}  // namespace detail

std::vector<uint8_t> encode_image(const RawImage& image, const std::string& format,
                                  const EncodeOptions& options, const std::string& name) {
  if (format == "tiff") return encode_tiff(image, options, name);
  if (format == "png") return encode_png(image, options, name);
  if (format == "npy") return encode_npy(image, options, name);
  if (format == "mrc") return encode_mrc(image, options, name);
  if (format == "text") return encode_text(image, options, name);
  throw ConfigError(name + ": cannot write format '" + format + "' (writable: tiff, png, npy, mrc, text)");
}

void write_raw_image(const fs::path& path, const RawImage& image, const EncodeOptions& options) {
  const std::string ext = lower_extension(path);
  const auto writable = supported_write_extensions();
  EMGAN_CHECK(IoError, std::find(writable.begin(), writable.end(), ext) != writable.end(),
              path.string(), ": cannot write files with extension '", ext,
              "' (writable: ", detail::join_list(writable), ")");
  std::vector<uint8_t> bytes = encode_image(image, format_for_extension(ext), options, path.string());
  if (ext == "csv") std::replace(bytes.begin(), bytes.end(), uint8_t(' '), uint8_t(','));  // numbers hold no spaces
  atomic_write(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    EMGAN_CHECK(IoError, out.good(), tmp.string(), ": cannot open for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    EMGAN_CHECK(IoError, out.good(), tmp.string(), ": write failed (disk full?)");
  });
}

std::pair<double, double> dtype_range(const std::string& dtype) {
  if (dtype == "uint8") return {0.0, 255.0};
  if (dtype == "int8") return {-128.0, 127.0};
  if (dtype == "uint16") return {0.0, 65535.0};
  if (dtype == "int16") return {-32768.0, 32767.0};
  if (dtype == "uint32") return {0.0, 4294967295.0};
  if (dtype == "int32") return {-2147483648.0, 2147483647.0};
  if (dtype == "float32" || dtype == "float64") return {0.0, 1.0};
  throw ConfigError("unknown sample type '" + dtype +
                    "' (known: uint8, int8, uint16, int16, uint32, int32, float32, float64)");
}

DtypeFit check_dtype_fit(const std::vector<float>& values, const std::string& dtype) {
  DtypeFit fit;
  const auto range = dtype_range(dtype);
  const bool is_float = dtype == "float32" || dtype == "float64";
  bool any = false;
  for (float v : values) {
    if (std::isnan(v)) {
      if (!is_float) ++fit.nan;
      continue;
    }
    if (std::isfinite(v)) {
      if (!any || v < fit.min) fit.min = v;
      if (!any || v > fit.max) fit.max = v;
      any = true;
    }
    if (is_float) continue;
    const double r = std::nearbyint(static_cast<double>(v));
    if (r < range.first) {
      ++fit.below;
    } else if (r > range.second) {
      ++fit.above;
    } else if (r != static_cast<double>(v)) {
      ++fit.non_integer;
    }
  }
  return fit;
}

double nanometres_per_unit(const std::string& unit) {
  if (unit == "nm" || unit == "nanometer" || unit == "nanometre") return 1.0;
  if (unit == "\xC3\x85" || unit == "\xE2\x84\xAB" || unit == "A" || unit == "angstrom" ||
      unit == "Angstrom")
    return 0.1;
  if (unit == "\xC2\xB5m" || unit == "\xCE\xBCm" || unit == "um" || unit == "micron" ||
      unit == "microns" || unit == "\\u00B5m")
    return 1000.0;
  if (unit == "mm") return 1e6;
  if (unit == "cm") return 1e7;
  if (unit == "m") return 1e9;
  if (unit == "pm") return 1e-3;
  return 0.0;
}

}  // namespace emgan::io
