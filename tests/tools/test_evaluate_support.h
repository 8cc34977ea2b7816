// Helpers for the in-process tests of `radgal evaluate` and `radgal predict`: a temporary
// folder, and running a sub-command with its stdout and stderr captured.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tools/commands.h"

namespace radgal::testing {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "radgal-tools-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CommandResult {
  int code = -1;
  std::string out, err;
};

// Runs command(args) with file descriptors 1 and 2 redirected to files; exceptions propagate
// (after the descriptors are restored), as they would reach main().
template <typename Command>
CommandResult run_captured(Command command, const tools::Args& args) {
  TempDir dir;
  const std::string out_path = dir.file("stdout"), err_path = dir.file("stderr");
  std::fflush(stdout);
  std::fflush(stderr);
  const int saved_out = ::dup(1), saved_err = ::dup(2);
  REQUIRE(std::freopen(out_path.c_str(), "w", stdout) != nullptr);
  REQUIRE(std::freopen(err_path.c_str(), "w", stderr) != nullptr);
  auto restore = [&] {
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(saved_out, 1);
    ::dup2(saved_err, 2);
    ::close(saved_out);
    ::close(saved_err);
  };
  CommandResult r;
  try {
    r.code = command(args);
  } catch (...) {
    restore();
    throw;
  }
  restore();
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  return r;
}

inline std::string shared_data(const std::string& relative) {
  return std::string(RADGAL_SHARED_DATA_DIR) + "/" + relative;
}

}  // namespace radgal::testing
