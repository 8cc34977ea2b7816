#include "tools/cli_support.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace radgal::tools {

std::optional<int> parse_command_line(CLI::App& app, const Args& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    // CLI11 knows the sub-command only by its own name; users type it after "radgal".
    std::string help = app.help();
    const std::string usage = "Usage: " + app.get_name();
    if (const size_t at = help.find(usage); at != std::string::npos) {
      help.replace(at, usage.size(), "Usage: radgal " + app.get_name());
    }
    std::printf("%s", help.c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "radgal %s: %s\n(run radgal %s --help for the options)\n",
                 app.get_name().c_str(), e.what(), app.get_name().c_str());
    return 2;
  }
  return std::nullopt;
}

CLI::Validator unsigned_integer() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        const std::string range = "a whole number from 0 to " + std::to_string(UINT64_MAX);
        if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
          return "must be " + range + ", got " + value;
        }
        errno = 0;
        std::strtoull(value.c_str(), nullptr, 10);
        if (errno == ERANGE) return "must be " + range + ", got " + value + " (too large)";
        // Leading zeros would make CLI11 read the digits as octal.
        value.erase(0, std::min(value.find_first_not_of('0'), value.size() - 1));
        return "";
      },
      "", "unsigned_integer");
}

void write_text_file(const std::string& path, const std::string& text) {
  // A short temporary name in the same folder (so the rename is atomic): appending a suffix to
  // the file name would push a valid 255-byte name over the limit.
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
  std::vector<char> tmp(folder.begin(), folder.end());
  const std::string suffix = ".rgtmp-XXXXXX";
  tmp.insert(tmp.end(), suffix.begin(), suffix.end());
  tmp.push_back('\0');
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw std::runtime_error(path + ": cannot create: " + std::strerror(errno));
  ::fchmod(fd, 0644);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.data());
      throw std::runtime_error(path + ": write failed: " + reason);
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed || ::rename(tmp.data(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.data());
    throw std::runtime_error(path + ": cannot write: " + reason);
  }
}

}  // namespace radgal::tools
