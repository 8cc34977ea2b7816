// Reading and writing the safetensors format (https://github.com/huggingface/safetensors):
//
//   bytes 0..7        N, the header length, unsigned 64-bit little-endian
//   bytes 8..8+N      a JSON object: for each tensor name {"dtype": "F32", "shape": [...],
//                     "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
//                     string -> string
//   bytes 8+N..       the data section; offsets are relative to its start, tensors are stored
//                     row-major, little-endian, and together they must cover it without gaps or
//                     overlaps
//
// Contracts
// - read_safetensors converts every supported dtype (F64, F32, F16, BF16, I64, I32, I16, I8, U64,
//   U32, U16, U8, BOOL) to a contiguous float32 Tensor on the CPU; integers above 2^24 lose
//   precision. Tensors come back in the order of their data offsets (the order a writer laid them
//   out), which for files this module wrote is the order they were given in.
// - Every structural problem (not a safetensors file, truncated file, header longer than the
//   file, malformed JSON, unknown dtype, shape that does not match the byte count, offsets out of
//   range, overlapping or leaving holes, duplicate names) throws SafetensorsError whose message
//   starts with the path.
// - write_safetensors writes float32 (F32) data. It is atomic: it writes a temporary file in the
//   destination folder, fsyncs it, renames it over the destination and fsyncs the folder, so a
//   crash leaves either the old file or the new one, never a partial file.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace radgal::nn {

struct SafetensorsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct NamedTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" entries

  const Tensor* find(const std::string& name) const;  // nullptr when absent
  void add(const std::string& name, const Tensor& t) { tensors.emplace_back(name, t); }
};

NamedTensors read_safetensors(const std::string& path);

// The same parsing from bytes already in memory; `source` names them in error messages.
NamedTensors parse_safetensors(const std::vector<uint8_t>& bytes, const std::string& source);

void write_safetensors(const std::string& path, const NamedTensors& tensors);

// The bytes write_safetensors would write (for tests and in-memory use).
std::vector<uint8_t> serialize_safetensors(const NamedTensors& tensors);

}  // namespace radgal::nn
