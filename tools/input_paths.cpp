#include "tools/input_paths.h"

#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace radgal::tools {

std::string special_file_problem(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return "";
  const std::string what = "not a regular file";
  if (S_ISDIR(st.st_mode)) return what + " (a folder)";
  if (S_ISFIFO(st.st_mode)) return what + " (a named pipe)";
  if (S_ISSOCK(st.st_mode)) return what + " (a socket)";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return what + " (a device)";
  return what;
}

void reject_special_file(const std::string& path) {
  const std::string problem = special_file_problem(path);
  if (!problem.empty()) throw std::runtime_error(path + ": " + problem);
}

void reject_special_batch_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "batches.meta" || name == "test_batch" || name.rfind("data_batch_", 0) == 0) {
      reject_special_file(entry.path().string());
    }
  }
}

}  // namespace radgal::tools
