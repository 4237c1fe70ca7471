#pragma once
// Helpers shared by the torch-free decoders and encoders (private to src/io/raw).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "emgan/core/error.h"
#include "emgan/io/formats.h"

namespace emgan::io::detail {

using ::emgan::detail::concat;

/// Comma-joined list for messages.
inline std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

/// a * b * ... with overflow and limit checks; returns -1 when the product exceeds `limit`.
inline int64_t checked_product(std::initializer_list<int64_t> factors, int64_t limit) {
  int64_t p = 1;
  for (int64_t f : factors) {
    if (f < 0) return -1;
    if (f == 0) return 0;
    if (p > limit / f) return -1;
    p *= f;
  }
  return p <= limit ? p : -1;
}

/// Throws IoError unless the image dimensions are positive and within the limit;
/// returns the sample count.
inline int64_t check_shape(const std::string& name, int64_t c, int64_t d, int64_t h, int64_t w,
                           const DecodeOptions& options) {
  EMGAN_CHECK(IoError, c > 0 && d > 0 && h > 0 && w > 0, name, ": invalid image size ", c,
              " channel(s) x ", d, " x ", h, " x ", w, " (every dimension must be > 0)");
  const int64_t n = checked_product({c, d, h, w}, options.max_samples);
  EMGAN_CHECK(IoError, n > 0, name, ": image of ", c, " x ", d, " x ", h, " x ", w,
              " samples exceeds the limit of ", options.max_samples, " samples (corrupt header?)");
  return n;
}

inline bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

/// Loads a T stored at `p` in little (`little`=true) or big endian order.
template <typename T>
T load(const uint8_t* p, bool little) {
  uint8_t tmp[sizeof(T)];
  if (little == host_is_little_endian()) {
    std::memcpy(tmp, p, sizeof(T));
  } else {
    for (size_t i = 0; i < sizeof(T); ++i) tmp[i] = p[sizeof(T) - 1 - i];
  }
  T v;
  std::memcpy(&v, tmp, sizeof(T));
  return v;
}

/// Stores `v` at `p` in the given byte order.
template <typename T>
void store(uint8_t* p, T v, bool little) {
  uint8_t tmp[sizeof(T)];
  std::memcpy(tmp, &v, sizeof(T));
  if (little == host_is_little_endian()) {
    std::memcpy(p, tmp, sizeof(T));
  } else {
    for (size_t i = 0; i < sizeof(T); ++i) p[i] = tmp[sizeof(T) - 1 - i];
  }
}

/// Appends `v` to `out` in the given byte order.
template <typename T>
void append(std::vector<uint8_t>& out, T v, bool little) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  store(out.data() + at, v, little);
}

/// Converts `n` samples of type T at `src` (byte order `little`) to float.
template <typename T>
void convert_samples(const uint8_t* src, size_t n, bool little, float* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<T>(src + i * sizeof(T), little));
}

/// Size in bytes of a sample type name; 0 for an unknown one.
inline size_t dtype_size(const std::string& dtype) {
  if (dtype == "uint8" || dtype == "int8") return 1;
  if (dtype == "uint16" || dtype == "int16") return 2;
  if (dtype == "uint32" || dtype == "int32" || dtype == "float32") return 4;
  if (dtype == "uint64" || dtype == "int64" || dtype == "float64") return 8;
  return 0;
}

/// Converts `n` samples of the named type at `src` to float; false for an unknown type.
inline bool convert_named(const std::string& dtype, const uint8_t* src, size_t n, bool little,
                          float* dst) {
  if (dtype == "uint8") convert_samples<uint8_t>(src, n, little, dst);
  else if (dtype == "int8") convert_samples<int8_t>(src, n, little, dst);
  else if (dtype == "uint16") convert_samples<uint16_t>(src, n, little, dst);
  else if (dtype == "int16") convert_samples<int16_t>(src, n, little, dst);
  else if (dtype == "uint32") convert_samples<uint32_t>(src, n, little, dst);
  else if (dtype == "int32") convert_samples<int32_t>(src, n, little, dst);
  else if (dtype == "uint64") convert_samples<uint64_t>(src, n, little, dst);
  else if (dtype == "int64") convert_samples<int64_t>(src, n, little, dst);
  else if (dtype == "float32") convert_samples<float>(src, n, little, dst);
  else if (dtype == "float64") convert_samples<double>(src, n, little, dst);
  else return false;
  return true;
}

/// A float as integer type T: rounded to nearest, clamped, NaN -> 0.
template <typename T>
T to_integer(float v) {
  if (std::isnan(v)) return T(0);
  const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  const double hi = static_cast<double>(std::numeric_limits<T>::max());
  double r = std::nearbyint(static_cast<double>(v));
  if (r < lo) r = lo;
  if (r > hi) r = hi;
  return static_cast<T>(r);
}

/// Writes `n` floats as the named type in the given byte order into `dst`.
template <typename T>
void encode_samples(const float* src, size_t n, bool little, uint8_t* dst) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    if constexpr (std::is_floating_point_v<T>) {
      v = static_cast<T>(src[i]);
    } else {
      v = to_integer<T>(src[i]);
    }
    store<T>(dst + i * sizeof(T), v, little);
  }
}

/// Encodes floats as the named type; throws ConfigError for an unknown type.
inline void encode_named(const std::string& dtype, const float* src, size_t n, bool little,
                         uint8_t* dst) {
  if (dtype == "uint8") encode_samples<uint8_t>(src, n, little, dst);
  else if (dtype == "int8") encode_samples<int8_t>(src, n, little, dst);
  else if (dtype == "uint16") encode_samples<uint16_t>(src, n, little, dst);
  else if (dtype == "int16") encode_samples<int16_t>(src, n, little, dst);
  else if (dtype == "uint32") encode_samples<uint32_t>(src, n, little, dst);
  else if (dtype == "int32") encode_samples<int32_t>(src, n, little, dst);
  else if (dtype == "float32") encode_samples<float>(src, n, little, dst);
  else if (dtype == "float64") encode_samples<double>(src, n, little, dst);
  else throw ConfigError("unknown sample type '" + dtype + "'");
}

/// Checks what every encoder checks: a consistent RawImage, a dtype the format takes.
void check_encodable(const RawImage& image, const std::string& format, const EncodeOptions& options,
                     const std::string& name);

/// Bounds-checked reader over a byte buffer; every failure throws IoError naming the file.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, const std::string& name)
      : data_(data), size_(size), name_(name) {}

  size_t pos() const { return pos_; }
  size_t size() const { return size_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& name() const { return name_; }
  const uint8_t* data() const { return data_; }

  /// Throws unless `n` more bytes are there; `what` says what was being read.
  void need(uint64_t n, const char* what) const {
    EMGAN_CHECK(IoError, n <= remaining(), name_, ": truncated file: ", what, " needs ", n,
                " bytes at offset ", pos_, " but only ", remaining(), " remain");
  }
  const uint8_t* take(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  template <typename T>
  T read(bool little, const char* what) {
    return load<T>(take(sizeof(T), what), little);
  }
  void seek(size_t pos) {
    EMGAN_CHECK(IoError, pos <= size_, name_, ": offset ", pos, " lies past the end of the file (",
                size_, " bytes)");
    pos_ = pos;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string name_;
};

}  // namespace emgan::io::detail
