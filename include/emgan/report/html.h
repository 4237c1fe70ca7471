#pragma once
/// \file html.h
/// The run report: one self-contained `index.html` (inline CSS, no script, no
/// network) gathering a run's figures, tables and configuration, written
/// atomically into the run directory. Images are referenced by paths relative to
/// the run directory, so the folder can be moved or copied as a whole.
#include <string>
#include <utility>
#include <vector>

#include "emgan/core/config.h"
#include "emgan/core/fs.h"

namespace emgan::report {

/// `text` with &, <, >, " and ' replaced by HTML entities.
std::string escape_html(const std::string& text);

/// A relative path as a URL path: each byte outside A-Z a-z 0-9 - . _ ~ / is
/// percent-encoded (so spaces, '#' and '?' in file names work).
std::string url_encode_path(const std::string& relative_path);

/// `value` with `precision` significant digits, without trailing zeros ("0.1235",
/// "1.5e-05"); "nan"/"inf" for non-finite values. For table cells.
std::string format_number(double value, int precision = 4);

/// An HTML report built block by block, in order.
class Report {
 public:
  /// A report titled `title` (shown as the page title and the top heading).
  explicit Report(std::string title);

  /// Starts a new section with heading `heading` (an <h2>, listed in the contents).
  Report& section(const std::string& heading);
  /// A paragraph of plain text (escaped; blank lines are not special).
  Report& paragraph(const std::string& text);
  /// A two-column table of names and values, with an optional caption.
  Report& key_values(const std::vector<std::pair<std::string, std::string>>& items,
                     const std::string& caption = "");
  /// A data table: `header` cells, then `rows` (each as long as the header, else
  /// ConfigError naming the row). Cells that parse as numbers are right-aligned.
  Report& table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                const std::string& caption = "");
  /// An image at `relative_path` (relative to the run directory; absolute paths,
  /// URLs and paths leaving the directory with ".." are ConfigError), with an
  /// optional caption and display width in CSS pixels (0 = natural, shrunk to fit).
  Report& image(const std::string& relative_path, const std::string& caption = "", int width = 0);
  /// Several images side by side (wrapping), each with its caption.
  Report& image_row(const std::vector<std::pair<std::string, std::string>>& paths_and_captions, int width = 0);
  /// Preformatted text (e.g. a log excerpt), escaped, with an optional caption.
  Report& preformatted(const std::string& text, const std::string& caption = "");
  /// A JSON value shown indented (e.g. the effective config), with a caption.
  Report& json(const Json& value, const std::string& caption = "");

  /// The title given at construction.
  const std::string& title() const { return title_; }
  /// Relative paths of every image referenced, in order.
  const std::vector<std::string>& images() const { return images_; }

  /// The whole page: a UTF-8 HTML5 document with inline CSS.
  std::string html() const;

  /// Writes `run_dir`/index.html atomically and returns its path. Throws IoError
  /// naming every referenced image that does not exist under `run_dir`.
  fs::path write(const fs::path& run_dir) const;

 private:
  std::string title_;
  std::vector<std::string> blocks_;
  std::vector<std::string> sections_;
  std::vector<std::string> images_;
};

}  // namespace emgan::report
