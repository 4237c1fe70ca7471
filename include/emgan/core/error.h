#pragma once
/// \file error.h
/// The one exception type of emgan. Every message names the file (or option), the
/// offending value and what was expected; the CLI catches it once, prints it to
/// stderr and exits non-zero.
#include <sstream>
#include <stdexcept>
#include <string>

namespace emgan {

/// Base class of every error emgan raises on bad input or a failed operation.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file could not be read or written, or its content is not what was expected.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A setting, option or argument has a value outside what is accepted.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A training run met a non-finite loss or another condition that stops it.
class TrainingError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace emgan

/// Throws `type` with the streamed message when `cond` is false, e.g.
/// `EMGAN_CHECK(IoError, w > 0, path, ": width ", w, " must be > 0")`.
#define EMGAN_CHECK(type, cond, ...)                         \
  do {                                                       \
    if (!(cond)) throw type(::emgan::detail::concat(__VA_ARGS__)); \
  } while (0)
