#include "emgan/core/progress.h"

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace emgan {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      os_(&std::cerr),
      terminal_(::isatty(::fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_ - std::chrono::hours(1)) {}

Progress::~Progress() {
  if (!finished_ && terminal_ && done_ > 0) *os_ << "\n";
}

void Progress::set_stream(std::ostream* os, bool is_terminal) {
  os_ = os;
  terminal_ = is_terminal;
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long total = std::lround(s);
  std::ostringstream os;
  if (total >= 3600) {
    os << total / 3600 << "h" << std::setw(2) << std::setfill('0') << (total % 3600) / 60 << "m";
  } else if (total >= 60) {
    os << total / 60 << "m" << std::setw(2) << std::setfill('0') << total % 60 << "s";
  } else {
    os << total << "s";
  }
  return os.str();
}

void Progress::update(int64_t done, const std::string& fields, int64_t items) {
  done_ = done;
  items_ += items;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  const double min_interval = terminal_ ? 0.2 : plain_interval_s_;
  if (since < min_interval && !(total_ > 0 && done >= total_)) return;
  last_print_ = now;
  print(false, fields);
}

void Progress::finish(const std::string& fields) {
  if (finished_) return;
  finished_ = true;
  print(true, fields);
}

void Progress::print(bool final_line, const std::string& fields) {
  const double t = elapsed();
  const double rate = t > 0 ? static_cast<double>(items_) / t : 0.0;
  std::ostringstream line;
  line << label_ << " " << done_;
  if (total_ > 0) {
    line << "/" << total_ << " (" << std::fixed << std::setprecision(0)
         << 100.0 * static_cast<double>(done_) / static_cast<double>(total_) << "%)";
  }
  if (!fields.empty()) line << " " << fields;
  line << " " << std::fixed << std::setprecision(rate < 10 ? 2 : 1) << rate << " " << unit_ << "/s";
  line << " elapsed " << format_duration(t);
  if (total_ > 0 && done_ > 0 && !final_line) {
    const double eta = t / static_cast<double>(done_) * static_cast<double>(total_ - done_);
    line << " ETA " << format_duration(eta);
  }
  if (terminal_) {
    *os_ << "\r\033[K" << line.str();
    if (final_line) *os_ << "\n";
  } else {
    *os_ << line.str() << "\n";
  }
  os_->flush();
}

void log_info(const std::string& message) { std::cerr << "[emgan] " << message << std::endl; }

}  // namespace emgan
