#include "nn/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace radgal::nn {

namespace {

// A header longer than this is not a model file; refusing it keeps a corrupt length field from
// asking for gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw SafetensorsError(source + ": " + what);
}

struct DTypeInfo {
  const char* name;
  size_t bytes;
};

constexpr DTypeInfo kDTypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
                                 {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U64", 8},  {"U32", 4},
                                 {"U16", 2}, {"U8", 1},  {"BOOL", 1}};

const DTypeInfo* find_dtype(const std::string& name) {
  for (const DTypeInfo& d : kDTypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

template <typename T>
T load_le(const uint8_t* p) {
  // The format is little-endian and so is every machine we build for; memcpy avoids unaligned
  // reads (tensor data starts at arbitrary offsets).
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  float value;
  if (exponent == 0) {
    value = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  } else if (exponent == 31) {
    value =
        mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    value = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  }
  return sign ? -value : value;
}

float bfloat16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

void convert_to_float(const std::string& dtype, const uint8_t* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) {
    float v = 0.f;
    if (dtype == "F32") {
      v = load_le<float>(src + 4 * i);
    } else if (dtype == "F64") {
      v = static_cast<float>(load_le<double>(src + 8 * i));
    } else if (dtype == "F16") {
      v = half_to_float(load_le<uint16_t>(src + 2 * i));
    } else if (dtype == "BF16") {
      v = bfloat16_to_float(load_le<uint16_t>(src + 2 * i));
    } else if (dtype == "I64") {
      v = static_cast<float>(load_le<int64_t>(src + 8 * i));
    } else if (dtype == "I32") {
      v = static_cast<float>(load_le<int32_t>(src + 4 * i));
    } else if (dtype == "I16") {
      v = static_cast<float>(load_le<int16_t>(src + 2 * i));
    } else if (dtype == "I8") {
      v = static_cast<float>(load_le<int8_t>(src + i));
    } else if (dtype == "U64") {
      v = static_cast<float>(load_le<uint64_t>(src + 8 * i));
    } else if (dtype == "U32") {
      v = static_cast<float>(load_le<uint32_t>(src + 4 * i));
    } else if (dtype == "U16") {
      v = static_cast<float>(load_le<uint16_t>(src + 2 * i));
    } else if (dtype == "U8") {
      v = static_cast<float>(src[i]);
    } else if (dtype == "BOOL") {
      v = src[i] ? 1.f : 0.f;
    }
    dst[i] = v;
  }
}

uint64_t json_offset(const nlohmann::json& v, const std::string& source, const std::string& name) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    fail(source, "tensor '" + name + "' has a data offset that is not a non-negative integer");
  }
  return v.get<uint64_t>();
}

struct Entry {
  std::string name, dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& name, const nlohmann::json& info, const std::string& source) {
  if (!info.is_object()) fail(source, "header entry '" + name + "' is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(key)) fail(source, "tensor '" + name + "' has no \"" + key + "\"");
  }
  Entry e;
  e.name = name;
  if (!info["dtype"].is_string()) fail(source, "tensor '" + name + "' has a non-string dtype");
  e.dtype = info["dtype"].get<std::string>();
  const DTypeInfo* dtype = find_dtype(e.dtype);
  if (!dtype) {
    fail(source, "tensor '" + name + "' has unsupported dtype '" + e.dtype +
                     "' (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL)");
  }

  const nlohmann::json& shape = info["shape"];
  if (!shape.is_array()) fail(source, "tensor '" + name + "' has a shape that is not a list");
  uint64_t numel = 1;
  for (const auto& d : shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      fail(source, "tensor '" + name + "' has a shape entry that is not a non-negative integer");
    }
    const uint64_t extent = d.get<uint64_t>();
    if (extent != 0 && numel > std::numeric_limits<int64_t>::max() / extent) {
      fail(source, "tensor '" + name + "' has a shape too large to address");
    }
    numel *= extent;
    e.shape.push_back(static_cast<int64_t>(extent));
  }

  const nlohmann::json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    fail(source, "tensor '" + name + "' needs data_offsets [begin, end]");
  }
  e.begin = json_offset(offsets[0], source, name);
  e.end = json_offset(offsets[1], source, name);
  if (e.end < e.begin) {
    fail(source, "tensor '" + name + "' has data_offsets [" + std::to_string(e.begin) + ", " +
                     std::to_string(e.end) + "] with end before begin");
  }
  if (numel > std::numeric_limits<uint64_t>::max() / dtype->bytes ||
      e.end - e.begin != numel * dtype->bytes) {
    fail(source, "tensor '" + name + "' has shape " + shape_to_string(e.shape) + " of " + e.dtype +
                     " (" + std::to_string(numel * dtype->bytes) +
                     " bytes) but data_offsets span " + std::to_string(e.end - e.begin) + " bytes");
  }
  return e;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  // A directory opens as a stream on Linux and reports a huge size, so check the kind first.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    fail(path, std::string("cannot open: ") + std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) fail(path, "is a directory, not a safetensors file");
  if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) fail(path, "cannot determine the file size (is it a regular file?)");
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    fail(path, "read failed");
  }
  return bytes;
}

}  // namespace

const Tensor* NamedTensors::find(const std::string& name) const {
  for (const auto& [n, t] : tensors) {
    if (n == name) return &t;
  }
  return nullptr;
}

NamedTensors parse_safetensors(const std::vector<uint8_t>& bytes, const std::string& source) {
  if (bytes.size() < 8) {
    fail(source, "not a safetensors file: " + std::to_string(bytes.size()) +
                     " bytes, shorter than the 8-byte header length");
  }
  const uint64_t header_len = load_le<uint64_t>(bytes.data());
  const uint64_t available = bytes.size() - 8;
  if (header_len > available) {
    fail(source, "not a safetensors file or truncated: header length " +
                     std::to_string(header_len) + " exceeds the " + std::to_string(available) +
                     " bytes that follow it");
  }
  if (header_len > kMaxHeaderBytes) {
    fail(source, "header length " + std::to_string(header_len) + " exceeds the 100 MiB limit");
  }
  if (header_len < 2 || bytes[8] != '{') {
    fail(source, "not a safetensors file: the header does not start with a JSON object");
  }

  // Parse the header, noticing duplicate top-level names (JSON parsers keep the last silently).
  std::set<std::string> seen_keys;
  std::string duplicate;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(
        bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len),
        [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          if (depth == 1 && event == nlohmann::json::parse_event_t::key) {
            const std::string key = parsed.get<std::string>();
            if (!seen_keys.insert(key).second && duplicate.empty()) duplicate = key;
          }
          return true;
        });
  } catch (const nlohmann::json::exception& e) {
    fail(source,
         std::string("not a safetensors file: the header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) fail(source, "not a safetensors file: the header is not a JSON object");
  if (!duplicate.empty()) fail(source, "tensor '" + duplicate + "' appears twice in the header");

  NamedTensors out;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(source, "__metadata__ is not a JSON object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(source, "__metadata__ '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(it.key(), it.value(), source));
  }

  // The tensors must tile the data section exactly: sorted by offset, each one starts where the
  // previous one ended and the last one ends at the end of the file.
  const uint64_t data_size = available - header_len;
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t cursor = 0;
  for (const Entry& e : entries) {
    if (e.end > data_size) {
      fail(source, "truncated: tensor '" + e.name + "' needs data bytes " +
                       std::to_string(e.begin) + ".." + std::to_string(e.end) +
                       " but the data section holds " + std::to_string(data_size));
    }
    if (e.begin < cursor) {
      fail(source, "tensor '" + e.name + "' overlaps the tensor before it (data_offsets " +
                       std::to_string(e.begin) + ".." + std::to_string(e.end) + ")");
    }
    if (e.begin > cursor) {
      fail(source, "data bytes " + std::to_string(cursor) + ".." + std::to_string(e.begin) +
                       " belong to no tensor");
    }
    cursor = e.end;
  }
  if (cursor != data_size) {
    fail(source, "data bytes " + std::to_string(cursor) + ".." + std::to_string(data_size) +
                     " belong to no tensor (trailing bytes)");
  }

  const uint8_t* data = bytes.data() + 8 + header_len;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape);
    convert_to_float(e.dtype, data + e.begin, t.numel(), t.data());
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

NamedTensors read_safetensors(const std::string& path) {
  return parse_safetensors(read_file_bytes(path), path);
}

std::vector<uint8_t> serialize_safetensors(const NamedTensors& tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!tensors.metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : tensors.metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors.tensors) {
    if (name.empty() || name == "__metadata__") {
      throw SafetensorsError("write_safetensors: invalid tensor name '" + name + "'");
    }
    if (!names.insert(name).second) {
      throw SafetensorsError("write_safetensors: tensor '" + name + "' given twice");
    }
    if (!t.defined()) throw SafetensorsError("write_safetensors: tensor '" + name + "' undefined");
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * 4;
    header[name] = {
        {"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<uint8_t> out(8 + text.size() + offset);
  const uint64_t header_len = text.size();
  std::memcpy(out.data(), &header_len, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* cursor = out.data() + 8 + text.size();
  for (const auto& [name, t] : tensors.tensors) {
    const Tensor c = t.contiguous();
    const size_t bytes = static_cast<size_t>(c.numel()) * 4;
    if (bytes) std::memcpy(cursor, c.data(), bytes);
    cursor += bytes;
  }
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors) {
  const std::vector<uint8_t> bytes = serialize_safetensors(tensors);

  const size_t slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmp = path + ".tmp-XXXXXX";
  std::vector<char> tmpl(tmp.begin(), tmp.end());
  tmpl.push_back('\0');
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) fail(path, std::string("cannot create a temporary file: ") + std::strerror(errno));
  tmp = tmpl.data();

  auto abandon = [&](const std::string& what) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    fail(path, what + ": " + reason);
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
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    fail(path, "close failed: " + reason);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    fail(path, "rename failed: " + reason);
  }
  // The rename is durable only once the folder's entry is on disk.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace radgal::nn
