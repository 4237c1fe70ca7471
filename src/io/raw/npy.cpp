// NumPy .npy files (format versions 1, 2, 3), C order, 2D and 3D.
#include <cctype>

#include "common.h"

namespace emgan::io {

namespace {

/// A parser of the header's Python dict literal, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  void parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape) {
    bool has_descr = false, has_fortran = false, has_shape = false;
    skip();
    expect('{');
    while (true) {
      skip();
      if (peek() == '}') break;
      const std::string key = string_value();
      skip();
      expect(':');
      skip();
      if (key == "descr") {
        descr = string_value();
        has_descr = true;
      } else if (key == "fortran_order") {
        fortran = bool_value();
        has_fortran = true;
      } else if (key == "shape") {
        shape = tuple_value();
        has_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      --i_;
    }
    if (!has_descr || !has_fortran || !has_shape)
      fail("header lacks one of 'descr', 'fortran_order', 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(detail::concat(name_, ": malformed NPY header at character ", i_, ": ", what));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_value() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    ++i_;
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] != q) ++i_;
    if (i_ >= s_.size()) fail("unterminated string");
    return s_.substr(start, i_++ - start);
  }
  bool bool_value() {
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<int64_t> tuple_value() {
    expect('(');
    std::vector<int64_t> dims;
    while (true) {
      skip();
      if (peek() == ')') {
        ++i_;
        return dims;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        v = v * 10 + (s_[i_++] - '0');
        if (v > (int64_t(1) << 40)) fail("dimension too large");
      }
      if (peek() == 'L') ++i_;  // Python 2 long
      if (dims.size() >= 32) fail("too many dimensions");
      dims.push_back(v);
      skip();
      if (peek() == ',') {
        ++i_;
      } else if (peek() != ')') {
        fail("expected ',' or ')' in shape");
      }
    }
  }

  const std::string& s_;
  const std::string& name_;
  size_t i_ = 0;
};

}  // namespace

RawImage decode_npy(const uint8_t* data, size_t size, const std::string& name,
                    const DecodeOptions& options) {
  detail::ByteReader in(data, size, name);
  const uint8_t* magic = in.take(6, "NPY magic");
  EMGAN_CHECK(IoError, std::memcmp(magic, "\x93NUMPY", 6) == 0, name, ": not a NumPy .npy file (bad magic)");
  const uint8_t major = *in.take(1, "NPY version");
  in.take(1, "NPY version");
  EMGAN_CHECK(IoError, major >= 1 && major <= 3, name, ": NPY format version ", int(major),
              " is not supported (expected 1, 2 or 3)");
  const uint32_t header_len = major == 1 ? in.read<uint16_t>(true, "NPY header length")
                                         : in.read<uint32_t>(true, "NPY header length");
  const uint8_t* header_bytes = in.take(header_len, "NPY header");
  const std::string header(reinterpret_cast<const char*>(header_bytes), header_len);

  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  HeaderParser(header, name).parse(descr, fortran, shape);
  EMGAN_CHECK(IoError, !fortran, name,
              ": Fortran-order arrays are not supported; save with np.ascontiguousarray(a)");
  EMGAN_CHECK(IoError, descr.size() >= 3, name, ": unsupported dtype '", descr, "'");
  const char order = descr[0];
  const char kind = descr[1];
  const std::string bytes = descr.substr(2);
  std::string dtype;
  if (kind == 'f' && (bytes == "4" || bytes == "8")) dtype = bytes == "4" ? "float32" : "float64";
  if ((kind == 'u' || kind == 'i') && (bytes == "1" || bytes == "2" || bytes == "4"))
    dtype = std::string(kind == 'u' ? "uint" : "int") + std::to_string(std::stoi(bytes) * 8);
  EMGAN_CHECK(IoError, !dtype.empty() && (order == '<' || order == '>' || order == '|' || order == '='), name,
              ": dtype '", descr, "' is not supported (expected float32/float64/uint8/uint16/int8/int16/int32/uint32)");
  const bool little = order == '<' || order == '|' || (order == '=' && detail::host_is_little_endian());
  EMGAN_CHECK(IoError, shape.size() == 2 || shape.size() == 3, name, ": array of ", shape.size(),
              " dimensions; expected 2 (H, W) or 3 (D, H, W)");

  RawImage image;
  image.meta.format = "npy";
  image.meta.dtype = dtype;
  image.is_volume = shape.size() == 3;
  image.depth = image.is_volume ? shape[0] : 1;
  image.height = shape[shape.size() - 2];
  image.width = shape[shape.size() - 1];
  const int64_t n = detail::check_shape(name, 1, image.depth, image.height, image.width, options);
  const size_t item = detail::dtype_size(dtype);
  const uint64_t expected = static_cast<uint64_t>(n) * item;
  EMGAN_CHECK(IoError, in.remaining() == expected, name, ": holds ", in.remaining(), " data bytes but shape (",
              image.depth, ", ", image.height, ", ", image.width, ") of ", dtype, " needs ", expected,
              in.remaining() < expected ? " (truncated file)" : " (trailing bytes)");
  image.data.resize(static_cast<size_t>(n));
  detail::convert_named(dtype, in.take(expected, "NPY data"), static_cast<size_t>(n), little, image.data.data());
  return image;
}

std::vector<uint8_t> encode_npy(const RawImage& image, const EncodeOptions& options,
                                const std::string& name) {
  detail::check_encodable(image, "npy", options, name);
  EMGAN_CHECK(ConfigError, image.channels == 1, name, ": NPY is written with one channel, got ",
              image.channels, " (take a channel first, or write TIFF)");
  std::string descr;
  if (options.dtype == "uint8") descr = "|u1";
  else if (options.dtype == "uint16") descr = "<u2";
  else if (options.dtype == "int16") descr = "<i2";
  else if (options.dtype == "float32") descr = "<f4";
  else descr = "<f8";
  std::string shape = image.is_volume ? "(" + std::to_string(image.depth) + ", " : "(";
  shape += std::to_string(image.height) + ", " + std::to_string(image.width) + ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  detail::append<uint16_t>(out, static_cast<uint16_t>(header.size()), true);
  out.insert(out.end(), header.begin(), header.end());
  const size_t at = out.size();
  out.resize(at + image.data.size() * detail::dtype_size(options.dtype));
  detail::encode_named(options.dtype, image.data.data(), image.data.size(), true, out.data() + at);
  return out;
}

}  // namespace emgan::io
