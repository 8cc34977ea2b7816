// Helpers for the in-process tests of the sub-commands: a temporary folder, running a
// sub-command with its stdout and stderr captured, and a named pipe that notices being opened.
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

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

// A named pipe at `path` (made here) and a watcher thread. Opening a pipe for reading blocks
// until a writer appears, so a command that opens it would hang the test; the watcher plays
// that writer: whenever a reader is waiting it opens the write end and closes it at once, the
// reader sees an empty file, and opened() records that the pipe was opened. A test that checks
// !opened() therefore fails, rather than hangs, when a command opens its inputs unchecked.
class WatchedFifo {
 public:
  explicit WatchedFifo(std::string path) : path_(std::move(path)) {
    REQUIRE(::mkfifo(path_.c_str(), 0600) == 0);
    watcher_ = std::thread([this] {
      while (!stop_) {
        // Without O_NONBLOCK this would itself wait for a reader; with it, open fails (ENXIO)
        // unless one is there.
        const int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK);
        if (fd >= 0) {
          opened_ = true;
          ::close(fd);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  ~WatchedFifo() {
    stop_ = true;
    watcher_.join();
  }
  WatchedFifo(const WatchedFifo&) = delete;
  WatchedFifo& operator=(const WatchedFifo&) = delete;

  const std::string& path() const { return path_; }
  bool opened() const { return opened_; }

 private:
  std::string path_;
  std::atomic<bool> stop_{false}, opened_{false};
  std::thread watcher_;
};

inline std::string shared_data(const std::string& relative) {
  return std::string(RADGAL_SHARED_DATA_DIR) + "/" + relative;
}

}  // namespace radgal::testing
