// Text arrays: one image row per line, values separated by whitespace and/or commas.
#include <charconv>
#include <cfloat>
#include <cstdio>
#include <cstdlib>

#include "common.h"

namespace emgan::io {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/// Parses one number; false when `token` is not entirely a number.
bool parse_number(const char* begin, const char* end, double& value) {
  const char* p = begin;
  if (p < end && *p == '+') ++p;  // from_chars takes no '+'
  if (p == end) return false;
  auto [ptr, ec] = std::from_chars(p, end, value);
  if (ec == std::errc::result_out_of_range) {
    // Overflow gives +-HUGE_VAL (rejected below), underflow gives 0 or a subnormal.
    const std::string copy(begin, end);
    char* stop = nullptr;
    value = std::strtod(copy.c_str(), &stop);
    return stop == copy.c_str() + copy.size();
  }
  return ec == std::errc() && ptr == end;
}

}  // namespace

RawImage decode_text(const uint8_t* data, size_t size, const std::string& name,
                     const DecodeOptions& options) {
  const char* text = reinterpret_cast<const char*>(data);
  const char* const end = text + size;
  if (size >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF) text += 3;  // UTF-8 BOM
  RawImage image;
  image.meta.format = "text";
  image.meta.dtype = "float64";
  int64_t width = -1, rows = 0, line_no = 0;
  const char* line = text;
  while (line < end) {
    const char* line_end = static_cast<const char*>(std::memchr(line, '\n', static_cast<size_t>(end - line)));
    if (!line_end) line_end = end;
    ++line_no;
    const char* p = line;
    while (p < line_end && is_space(*p)) ++p;
    if (p == line_end || *p == '#') {  // empty line or comment
      line = line_end + (line_end < end ? 1 : 0);
      continue;
    }
    int64_t count = 0;
    while (p < line_end) {
      const char* tok = p;
      while (p < line_end && !is_space(*p) && *p != ',') ++p;
      const int64_t column = (tok - line) + 1;
      EMGAN_CHECK(IoError, p > tok, name, ": line ", line_no, ", column ", column,
                  ": empty value between separators");
      double v = 0.0;
      if (!parse_number(tok, p, v)) {
        const std::string shown(tok, static_cast<size_t>(std::min<ptrdiff_t>(p - tok, 40)));
        throw IoError(detail::concat(name, ": line ", line_no, ", column ", column, " (value ", count + 1,
                                     "): '", shown, "' is not a number"));
      }
      EMGAN_CHECK(IoError, !std::isfinite(v) || std::fabs(v) <= static_cast<double>(FLT_MAX), name, ": line ",
                  line_no, ", column ", column, ": ", std::string(tok, p), " is beyond the float32 range");
      EMGAN_CHECK(IoError, static_cast<int64_t>(image.data.size()) < options.max_samples, name,
                  ": more than ", options.max_samples, " values");
      image.data.push_back(static_cast<float>(v));
      ++count;
      while (p < line_end && is_space(*p)) ++p;
      if (p < line_end && *p == ',') {
        ++p;
        while (p < line_end && is_space(*p)) ++p;
      }
    }
    if (width < 0) {
      width = count;
    } else {
      EMGAN_CHECK(IoError, count == width, name, ": line ", line_no, " has ", count,
                  " values but the rows before it have ", width, " (ragged rows)");
    }
    ++rows;
    line = line_end + (line_end < end ? 1 : 0);
  }
  EMGAN_CHECK(IoError, rows > 0 && width > 0, name, ": no numbers in the file (empty text array)");
  image.height = rows;
  image.width = width;
  return image;
}

std::vector<uint8_t> encode_text(const RawImage& image, const EncodeOptions& options,
                                 const std::string& name) {
  detail::check_encodable(image, "text", options, name);
  EMGAN_CHECK(ConfigError, !image.is_volume && image.channels == 1, name,
              ": a text array holds one 2D image; got ", image.channels, " channel(s) x ", image.depth,
              " slice(s) (take a slice or a channel first)");
  std::string out;
  out.reserve(static_cast<size_t>(image.width * image.height) * 16);
  char buf[32];
  for (int64_t y = 0; y < image.height; ++y) {
    for (int64_t x = 0; x < image.width; ++x) {
      // Shortest form that reads back to the same float32 (locale-independent).
      const auto res = std::to_chars(buf, buf + sizeof(buf), image.data[y * image.width + x]);
      if (x) out += ' ';
      out.append(buf, res.ptr);
    }
    out += '\n';
  }
  return std::vector<uint8_t>(out.begin(), out.end());
}

}  // namespace emgan::io
