#include "train/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace radgal {

namespace {

const std::string kModelPrefix = "model.";
const std::string kBestPrefix = "best.";
const std::string kOptimPrefix = "optim.";
const std::string kEmaPrefix = "ema.";
const std::string kSwaPrefix = "swa.";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

nlohmann::json parse_metadata(const nn::NamedTensors& file, const std::string& key,
                              const std::string& path) {
  const auto it = file.metadata.find(key);
  if (it == file.metadata.end()) {
    throw std::runtime_error(path + ": checkpoint has no '" + key + "' metadata");
  }
  try {
    return nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": checkpoint metadata '" + key + "' is not valid JSON (" +
                             e.what() + ")");
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& bytes) {
  auto fail = [&](const std::string& what, int err) {
    throw std::runtime_error(path + ": " + what + ": " + std::strerror(err));
  };
  std::string tmp = path + ".tmp-XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  const int fd = ::mkstemp(name.data());
  if (fd < 0) fail("cannot create a temporary file", errno);
  tmp = name.data();
  auto abandon = [&](const std::string& what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(what, err);
  };
  ::fchmod(fd, 0644);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("write failed");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) abandon("fsync failed");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("close failed", err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("rename failed", err);
  }
  // The new name is durable only once the folder's entry is on disk.
  const int dir_fd = ::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  nn::NamedTensors file;
  for (const auto& [name, t] : checkpoint.model.tensors) file.add(kModelPrefix + name, t);
  for (const auto& [name, t] : checkpoint.best_model.tensors) file.add(kBestPrefix + name, t);
  for (const auto& [name, t] : checkpoint.ema_model.tensors) file.add(kEmaPrefix + name, t);
  for (const auto& [name, t] : checkpoint.swa_model.tensors) file.add(kSwaPrefix + name, t);
  for (const auto& [name, t] : checkpoint.optimizer) {
    if (!starts_with(name, kOptimPrefix)) {
      throw std::invalid_argument("write_checkpoint: optimiser state name '" + name +
                                  "' lacks the 'optim.' prefix");
    }
    file.add(name, t);
  }
  file.metadata["radgal.format"] = kCheckpointFormat;
  file.metadata["radgal.config"] = checkpoint.model_config.dump();
  file.metadata["radgal.train_config"] = checkpoint.train_config.dump();
  file.metadata["radgal.state"] = checkpoint.state.dump();
  nn::write_safetensors(path, file);
}

Checkpoint read_checkpoint(const std::string& path) {
  const nn::NamedTensors file = nn::read_safetensors(path);
  const auto format = file.metadata.find("radgal.format");
  if (format == file.metadata.end() || format->second != kCheckpointFormat) {
    throw std::runtime_error(path + ": not a radgal checkpoint (metadata radgal.format is '" +
                             (format == file.metadata.end() ? "" : format->second) +
                             "', expected '" + kCheckpointFormat + "')");
  }
  Checkpoint c;
  c.model_config = parse_metadata(file, "radgal.config", path);
  c.train_config = parse_metadata(file, "radgal.train_config", path);
  c.state = parse_metadata(file, "radgal.state", path);
  for (const auto& [name, t] : file.tensors) {
    if (starts_with(name, kModelPrefix)) {
      c.model.add(name.substr(kModelPrefix.size()), t);
    } else if (starts_with(name, kBestPrefix)) {
      c.best_model.add(name.substr(kBestPrefix.size()), t);
    } else if (starts_with(name, kEmaPrefix)) {
      c.ema_model.add(name.substr(kEmaPrefix.size()), t);
    } else if (starts_with(name, kSwaPrefix)) {
      c.swa_model.add(name.substr(kSwaPrefix.size()), t);
    } else if (starts_with(name, kOptimPrefix)) {
      c.optimizer.emplace_back(name, t);
    } else {
      throw std::runtime_error(path + ": unexpected tensor '" + name + "' in a checkpoint");
    }
  }
  if (c.model.tensors.empty()) throw std::runtime_error(path + ": checkpoint holds no weights");
  return c;
}

}  // namespace radgal
