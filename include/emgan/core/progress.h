#pragma once
/// \file progress.h
/// A progress line for long work: step/total, free-form fields, rate and ETA.
/// On a terminal it redraws one line; otherwise it prints plain lines at most
/// every `plain_interval_s` seconds, so logs stay readable.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace emgan {

class Progress {
 public:
  /// `label` starts each line; `total` steps (0 = unknown); `unit` names what the
  /// rate counts ("img", "step").
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();

  /// Reports that `done` steps are complete and `items` more units were processed
  /// since the last call; `fields` is appended (e.g. "loss_g=0.31 loss_d=0.69").
  void update(int64_t done, const std::string& fields = "", int64_t items = 1);

  /// Ends the line (prints the final state once).
  void finish(const std::string& fields = "");

  /// Seconds since construction.
  double elapsed() const;

  /// Overrides where lines go (default std::cerr) and whether it is a terminal.
  void set_stream(std::ostream* os, bool is_terminal);

  /// "1h02m", "3m05s", "12s".
  static std::string format_duration(double seconds);

 private:
  void print(bool final_line, const std::string& fields);

  std::string label_;
  int64_t total_;
  std::string unit_;
  std::ostream* os_;
  bool terminal_;
  bool finished_ = false;
  int64_t done_ = 0;
  int64_t items_ = 0;
  double plain_interval_s_ = 10.0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
};

/// Prints "[emgan] message" to stderr.
void log_info(const std::string& message);

}  // namespace emgan
