#include "tools/output_paths.h"

#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace radgal::tools {

namespace fs = std::filesystem;

void require_writable_dir(const std::string& dir, const std::string& option) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw std::runtime_error(option + " " + dir + ": cannot create the folder" +
                             (ec ? ": " + ec.message() : std::string(" (a file is in the way)")));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    throw std::runtime_error(option + " " + dir + ": the folder is not writable");
  }
}

void require_writable_parent(const std::string& file, const std::string& option) {
  if (fs::is_directory(file)) throw std::runtime_error(option + " " + file + ": is a folder");
  std::string parent = fs::path(file).parent_path().string();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent)) {
    throw std::runtime_error(option + " " + file + ": the folder " + parent + " does not exist");
  }
  if (::access(parent.c_str(), W_OK | X_OK) != 0) {
    throw std::runtime_error(option + " " + file + ": the folder " + parent + " is not writable");
  }
}

}  // namespace radgal::tools
