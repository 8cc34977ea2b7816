// MD5 (RFC 1321), used only to recognise the official release files of the data sets; it is not
// a security check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace radgal {

class Md5 {
 public:
  Md5();
  void update(const void* data, size_t size);
  std::string hex_digest();  // 32 lower-case hex digits; call once, after the last update

 private:
  void block(const uint8_t* b);
  uint32_t state_[4];
  uint64_t length_ = 0;  // bytes seen
  uint8_t buffer_[64];
  size_t buffered_ = 0;
};

std::string md5_hex(const void* data, size_t size);
std::string md5_hex_of_file(const std::string& path);  // throws naming the path if unreadable

}  // namespace radgal
