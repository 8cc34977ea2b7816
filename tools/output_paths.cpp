#include "tools/output_paths.h"

#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace radgal::tools {

namespace fs = std::filesystem;

std::string writable_dir_problem(const std::string& dir, const std::string& option) {
  const std::string named = option + " " + dir + ": ";
  std::error_code made, kind;
  fs::create_directories(dir, made);
  if (made || !fs::is_directory(dir, kind)) {
    return named + "cannot create the folder" +
           (made ? ": " + made.message() : std::string(" (a file is in the way)"));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return named + "the folder is not writable";
  return "";
}

std::string writable_parent_problem(const std::string& file, const std::string& option) {
  const std::string named = option + " " + file + ": ";
  std::error_code ec;
  if (fs::is_directory(file, ec)) return named + "is a folder";
  std::string parent = fs::path(file).parent_path().string();
  if (parent.empty()) parent = ".";
  if (!fs::exists(parent, ec)) return named + "the folder " + parent + " does not exist";
  if (!fs::is_directory(parent, ec)) return named + parent + " is not a folder";
  if (::access(parent.c_str(), W_OK | X_OK) != 0) {
    return named + "the folder " + parent + " is not writable";
  }
  return "";
}

void require_writable_dir(const std::string& dir, const std::string& option) {
  const std::string problem = writable_dir_problem(dir, option);
  if (!problem.empty()) throw std::runtime_error(problem);
}

void require_writable_parent(const std::string& file, const std::string& option) {
  const std::string problem = writable_parent_problem(file, option);
  if (!problem.empty()) throw std::runtime_error(problem);
}

}  // namespace radgal::tools
