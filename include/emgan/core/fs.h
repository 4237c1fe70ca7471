#pragma once
/// \file fs.h
/// File-system helpers: atomic writes (temp file + rename) and folder creation.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace emgan {

namespace fs = std::filesystem;

/// Creates `dir` and its parents; throws IoError naming the path on failure.
void ensure_dir(const fs::path& dir);

/// Writes a file atomically: `writer` is called with a temporary path in the same
/// folder, which is then renamed over `path`. A crash leaves the old file intact.
void atomic_write(const fs::path& path, const std::function<void(const fs::path& tmp)>& writer);

/// Writes `text` to `path` atomically.
void write_text_atomic(const fs::path& path, const std::string& text);

/// Reads a whole file as text; throws IoError naming the path when it cannot.
std::string read_text(const fs::path& path);

/// Splits one line of a CSV file into its cells (RFC 4180: commas inside double
/// quotes do not split, "" inside quotes is one quote; an empty line is one empty cell;
/// a trailing comma gives a last empty cell). No trimming.
std::vector<std::string> split_csv_line(const std::string& line);

/// Lower-case extension of `path` without the dot ("tif" for "a/B.TIF"); for
/// "x.tar.gz"-like names only the last part.
std::string lower_extension(const fs::path& path);

}  // namespace emgan
