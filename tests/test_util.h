#pragma once
/// Helpers shared by the test programs: where the real data is, a fresh temporary
/// folder per test, and the path of the CLI binary (all from CMake, never the cwd).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace emgan::test {

/// ../shared/data as configured by CMake (EMGAN_SHARED_DATA).
inline std::filesystem::path shared_data() { return EMGAN_SHARED_DATA; }

/// A fresh, empty folder for one test: <build>/tests/tmp/<suite>.<test>.
inline std::filesystem::path temp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::path(EMGAN_TEST_TMP) /
                              (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// The emgan CLI built with the tests.
inline std::string cli_path() { return EMGAN_CLI_PATH; }

/// What one run of the CLI printed (stdout and stderr together) and its exit status
/// (-1 when it could not be started or did not exit normally).
struct CliRun {
  int code = -1;
  std::string out;
};

/// Runs `emgan ARGS` (the CLI built with the tests) and captures its output.
inline CliRun run_cli(const std::string& args) {
  const std::string cmd = cli_path() + " " + args + " 2>&1";
  CliRun r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace emgan::test

/// Skips the current test (with a message) when ../shared/data/<sub> is absent.
#define EMGAN_REQUIRE_SHARED(sub)                                                      \
  do {                                                                                 \
    if (!std::filesystem::exists(::emgan::test::shared_data() / (sub)))                \
      GTEST_SKIP() << "real data not present: " << (::emgan::test::shared_data() / (sub)); \
  } while (0)
