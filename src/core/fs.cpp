#include "emgan/core/fs.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "emgan/core/error.h"

namespace emgan {

void ensure_dir(const fs::path& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  EMGAN_CHECK(IoError, !ec && fs::is_directory(dir), dir.string(),
              ": cannot create folder (", ec.message(), ")");
}

void atomic_write(const fs::path& path, const std::function<void(const fs::path& tmp)>& writer) {
  static std::atomic<unsigned> counter{0};
  if (path.has_parent_path()) ensure_dir(path.parent_path());
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  try {
    writer(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw IoError(detail::concat(path.string(), ": cannot move the finished file into place (",
                                 ec.message(), ")"));
  }
}

void write_text_atomic(const fs::path& path, const std::string& text) {
  atomic_write(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    EMGAN_CHECK(IoError, out.good(), tmp.string(), ": cannot open for writing");
    out << text;
    out.close();
    EMGAN_CHECK(IoError, out.good(), tmp.string(), ": write failed (disk full?)");
  });
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EMGAN_CHECK(IoError, in.good(), path.string(), ": cannot open for reading (missing file?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  if (!ext.empty() && ext[0] == '.') ext = ext.substr(1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  cells.push_back(cur);
  return cells;
}

}  // namespace emgan
