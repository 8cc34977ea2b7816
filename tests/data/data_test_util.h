// Helpers shared by the data-layer tests: a scratch folder per test, the reference values of
// tests/data/make_data_fixtures.py, and byte-level file writing for broken inputs.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace radgal::test {

inline const std::string kShared = RADGAL_SHARED_DATA_DIR;
inline const std::string kMiraBestBatches = kShared + "/mirabest/batches";
inline const std::string kMiraBestFits = kShared + "/mirabest/fits";
inline const std::string kFrdeepBatches = kShared + "/frdeep-f/batches";

// A fresh folder under the system temp directory, removed with everything in it on scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("radgal_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), std::streamsize(size));
  if (!out) throw std::runtime_error("test: cannot write " + path);
}
inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_bytes(path, bytes.data(), bytes.size());
}
inline void write_text(const std::string& path, const std::string& text) {
  write_bytes(path, text.data(), text.size());
}
inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline const nlohmann::json& fixtures() {
  static const nlohmann::json j = [] {
    std::ifstream in(std::string(RADGAL_SOURCE_DIR) + "/tests/data/data_fixtures.json");
    if (!in) throw std::runtime_error("test: tests/data/data_fixtures.json is missing");
    return nlohmann::json::parse(in);
  }();
  return j;
}

// The bytes of a pickle case of the fixtures (stored zlib-compressed as hex).
inline std::vector<uint8_t> pickle_case(const std::string& name) {
  const nlohmann::json& c = fixtures().at("pickles").at(name);
  const std::string hex = c.at("zhex").get<std::string>();
  std::vector<uint8_t> packed(hex.size() / 2);
  for (size_t i = 0; i < packed.size(); ++i)
    packed[i] = uint8_t(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  uLongf size = c.at("size").get<uLongf>();
  std::vector<uint8_t> bytes(size);
  if (uncompress(bytes.data(), &size, packed.data(), uLong(packed.size())) != Z_OK) {
    throw std::runtime_error("test: cannot unpack pickle case " + name);
  }
  return bytes;
}

}  // namespace radgal::test
