// The HTML run report.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "emgan/core/error.h"
#include "emgan/report/html.h"

namespace emgan::report {

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string url_encode_path(const std::string& relative_path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : relative_path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string format_number(double value, int precision) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  precision = std::clamp(precision, 1, 17);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, value);
  std::string s = buf;
  // "%.g" already drops trailing zeros; tidy the exponent ("1.5e-05" -> "1.5e-5").
  const auto e = s.find('e');
  if (e != std::string::npos) {
    std::string mant = s.substr(0, e), ex = s.substr(e + 1);
    const bool neg = !ex.empty() && ex[0] == '-';
    if (!ex.empty() && (ex[0] == '-' || ex[0] == '+')) ex.erase(0, 1);
    while (ex.size() > 1 && ex[0] == '0') ex.erase(0, 1);
    s = mant + "e" + (neg ? "-" : "") + ex;
  }
  return s;
}

namespace {

bool looks_numeric(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  if (end == s.c_str() + s.size()) return true;
  // a number with a trailing unit or percent sign ("12.5 %", "0.31 nm") still aligns right
  return end != s.c_str() && (*end == ' ' || *end == '%');
}

std::string caption_html(const std::string& caption) {
  return caption.empty() ? "" : "<caption>" + escape_html(caption) + "</caption>";
}

void check_relative(const std::string& path) {
  const fs::path p(path);
  bool bad = path.empty() || p.is_absolute() || path.find("://") != std::string::npos || path.rfind("//", 0) == 0 ||
             path.find(':') != std::string::npos || path.find('\\') != std::string::npos;
  for (const auto& part : p)
    if (part == "..") bad = true;
  EMGAN_CHECK(ConfigError, !bad, "report image path \"", path,
              "\": expected a path relative to the run directory, without \"..\", \":\" or a URL scheme");
}

std::string anchor(size_t i) { return "s" + std::to_string(i + 1); }

std::string figure_html(const std::string& path, const std::string& caption, int width) {
  std::ostringstream o;
  o << "<figure><a href=\"" << escape_html(url_encode_path(path)) << "\"><img src=\""
    << escape_html(url_encode_path(path)) << "\" alt=\"" << escape_html(caption.empty() ? path : caption) << "\"";
  if (width > 0) o << " style=\"width:" << width << "px\"";
  o << "></a>";
  if (!caption.empty()) o << "<figcaption>" << escape_html(caption) << "</figcaption>";
  o << "</figure>";
  return o.str();
}

constexpr const char* kCss = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f5f6f8; color: #1d2330;
  font: 15px/1.5 "DejaVu Sans", "Liberation Sans", "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 48px; background: #fff;
  min-height: 100vh; box-shadow: 0 0 0 1px #e3e6eb; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 34px 0 12px; padding-bottom: 5px; border-bottom: 2px solid #e3e6eb; }
p { margin: 8px 0; max-width: 78ch; }
nav { font-size: 14px; color: #555; margin: 4px 0 18px; }
nav a { color: #2a5db0; text-decoration: none; margin-right: 14px; white-space: nowrap; }
nav a:hover { text-decoration: underline; }
table { border-collapse: collapse; margin: 10px 0 18px; font-size: 14px; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0 0 6px; color: #333; white-space: nowrap; }
th, td { border: 1px solid #dde1e7; padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums;
  font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; }
table.kv th { white-space: nowrap; }
table.kv td { min-width: 8em; }
figure { margin: 10px 0 22px; display: inline-block; vertical-align: top; max-width: 100%; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid #e3e6eb; image-rendering: auto; }
figcaption { font-size: 13px; color: #555; margin-top: 5px; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.row figure { margin: 6px 0; }
pre { background: #f6f8fa; border: 1px solid #e3e6eb; border-radius: 4px; padding: 12px 14px; overflow: auto;
  max-height: 480px; font: 13px/1.45 "DejaVu Sans Mono", "Liberation Mono", monospace; }
.pre-caption { font-weight: 600; margin: 10px 0 4px; color: #333; }
footer { margin-top: 40px; font-size: 12px; color: #888; }
)css";

}  // namespace

Report::Report(std::string title) : title_(std::move(title)) {}

Report& Report::section(const std::string& heading) {
  blocks_.push_back("<h2 id=\"" + anchor(sections_.size()) + "\">" + escape_html(heading) + "</h2>");
  sections_.push_back(heading);
  return *this;
}

Report& Report::paragraph(const std::string& text) {
  blocks_.push_back("<p>" + escape_html(text) + "</p>");
  return *this;
}

Report& Report::key_values(const std::vector<std::pair<std::string, std::string>>& items, const std::string& caption) {
  std::ostringstream o;
  o << "<table class=\"kv\">" << caption_html(caption) << "<tbody>";
  for (const auto& [k, v] : items)
    o << "<tr><th>" << escape_html(k) << "</th><td>" << escape_html(v) << "</td></tr>";
  o << "</tbody></table>";
  blocks_.push_back(o.str());
  return *this;
}

Report& Report::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                      const std::string& caption) {
  EMGAN_CHECK(ConfigError, !header.empty(), "report table \"", caption, "\": the header has no cells");
  std::ostringstream o;
  o << "<table>" << caption_html(caption) << "<thead><tr>";
  for (const auto& h : header) o << "<th>" << escape_html(h) << "</th>";
  o << "</tr></thead><tbody>";
  for (size_t r = 0; r < rows.size(); ++r) {
    EMGAN_CHECK(ConfigError, rows[r].size() == header.size(), "report table \"", caption, "\": row ", r, " has ",
                rows[r].size(), " cells, the header ", header.size());
    o << "<tr>";
    for (const auto& cell : rows[r])
      o << "<td" << (looks_numeric(cell) ? " class=\"num\"" : "") << ">" << escape_html(cell) << "</td>";
    o << "</tr>";
  }
  o << "</tbody></table>";
  blocks_.push_back(o.str());
  return *this;
}

Report& Report::image(const std::string& relative_path, const std::string& caption, int width) {
  check_relative(relative_path);
  EMGAN_CHECK(ConfigError, width >= 0, "report image \"", relative_path, "\": width ", width, " must be >= 0");
  images_.push_back(relative_path);
  blocks_.push_back(figure_html(relative_path, caption, width));
  return *this;
}

Report& Report::image_row(const std::vector<std::pair<std::string, std::string>>& paths_and_captions, int width) {
  std::string html = "<div class=\"row\">";
  for (const auto& [path, caption] : paths_and_captions) {
    check_relative(path);
    EMGAN_CHECK(ConfigError, width >= 0, "report image \"", path, "\": width ", width, " must be >= 0");
    images_.push_back(path);
    html += figure_html(path, caption, width);
  }
  blocks_.push_back(html + "</div>");
  return *this;
}

Report& Report::preformatted(const std::string& text, const std::string& caption) {
  std::string html;
  if (!caption.empty()) html += "<div class=\"pre-caption\">" + escape_html(caption) + "</div>";
  blocks_.push_back(html + "<pre>" + escape_html(text) + "</pre>");
  return *this;
}

Report& Report::json(const Json& value, const std::string& caption) {
  return preformatted(value.dump(2, ' ', false, Json::error_handler_t::replace), caption);
}

std::string Report::html() const {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self' file: data:; "
       "style-src 'unsafe-inline'\">\n"
    << "<title>" << escape_html(title_) << "</title>\n<style>" << kCss << "</style>\n</head>\n<body>\n<main>\n"
    << "<h1>" << escape_html(title_) << "</h1>\n";
  if (sections_.size() > 1) {
    o << "<nav>";
    for (size_t i = 0; i < sections_.size(); ++i)
      o << "<a href=\"#" << anchor(i) << "\">" << escape_html(sections_[i]) << "</a>";
    o << "</nav>\n";
  }
  for (const auto& b : blocks_) o << b << "\n";
  o << "<footer>Written by emgan. This page is self-contained: it loads nothing from the network.</footer>\n"
    << "</main>\n</body>\n</html>\n";
  return o.str();
}

fs::path Report::write(const fs::path& run_dir) const {
  std::vector<std::string> missing;
  for (const auto& img : images_)
    if (!fs::is_regular_file(run_dir / img)) missing.push_back(img);
  EMGAN_CHECK(IoError, missing.empty(), (run_dir / "index.html").string(), ": referenced image(s) missing under ",
              run_dir.string(), ": ", join(missing));
  ensure_dir(run_dir);
  const fs::path path = run_dir / "index.html";
  write_text_atomic(path, html());
  return path;
}

}  // namespace emgan::report
