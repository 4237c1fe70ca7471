#include <fstream>

#include "emgan/io/raw.h"

namespace emgan::io {

std::vector<uint8_t> read_file_bytes(const fs::path& path) {
  std::error_code ec;
  EMGAN_CHECK(IoError, fs::exists(path, ec), path.string(), ": no such file");
  EMGAN_CHECK(IoError, fs::is_regular_file(path, ec), path.string(), ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  EMGAN_CHECK(IoError, in.good(), path.string(), ": cannot open for reading");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
  EMGAN_CHECK(IoError, in.good() || in.eof(), path.string(), ": read failed");
  return bytes;
}

}  // namespace emgan::io
