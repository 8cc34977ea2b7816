// nn/safetensors: round trips, files written by the reference Python implementation, hand-built
// byte layouts for every dtype, and broken files that must be refused with a message naming the
// file and the problem.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nn/safetensors.h"

using radgal::Tensor;
using radgal::nn::NamedTensors;
using radgal::nn::SafetensorsError;

namespace {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "radgal-st-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A safetensors image from a header text and raw data bytes.
std::vector<uint8_t> build(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    radgal::nn::parse_safetensors(bytes, "broken.safetensors");
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("safetensors: write then read gives the same names, shapes, values and metadata") {
  TempDir dir;
  NamedTensors in;
  in.add("conv.weight", Tensor::from_vector({1.5f, -2.f, 3.25f, 0.f, 1e-30f, -7e20f}, {2, 3}));
  in.add("scalar", Tensor::scalar(42.f));
  in.add("empty", Tensor::zeros({0, 4}));
  in.add("a.later.name", Tensor::from_vector({9.f}, {1, 1, 1}));
  // A non-contiguous view must be written in logical (row-major) order.
  in.add("transposed", Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1));
  in.metadata["radgal.format"] = "radgal-model-1";
  in.metadata["note"] = "quotes \" and unicode \xc3\xa9";

  const std::string path = dir.file("model.safetensors");
  radgal::nn::write_safetensors(path, in);
  const NamedTensors out = radgal::nn::read_safetensors(path);

  REQUIRE(out.tensors.size() == in.tensors.size());
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    CAPTURE(in.tensors[i].first);
    CHECK(out.tensors[i].first == in.tensors[i].first);  // order preserved
    CHECK(out.tensors[i].second.shape() == in.tensors[i].second.shape());
    CHECK(out.tensors[i].second.to_vector() == in.tensors[i].second.to_vector());
  }
  CHECK(out.find("transposed")->to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(out.metadata == in.metadata);
  CHECK(out.find("missing") == nullptr);

  // The data section starts 8-byte aligned, and no temporary file is left behind.
  std::ifstream f(path, std::ios::binary);
  uint64_t header_len = 0;
  f.read(reinterpret_cast<char*>(&header_len), 8);
  CHECK(header_len % 8 == 0);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    (void)entry;
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("safetensors: overwriting replaces the file, an unwritable path names it") {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  NamedTensors a, b;
  a.add("x", Tensor::full({3}, 1.f));
  b.add("y", Tensor::full({2}, 2.f));
  radgal::nn::write_safetensors(path, a);
  radgal::nn::write_safetensors(path, b);
  const NamedTensors out = radgal::nn::read_safetensors(path);
  REQUIRE(out.tensors.size() == 1);
  CHECK(out.tensors[0].first == "y");

  const std::string bad = dir.file("no/such/folder/m.safetensors");
  CHECK_THROWS_WITH_AS(radgal::nn::write_safetensors(bad, a), doctest::Contains(bad.c_str()),
                       SafetensorsError);
  NamedTensors dup;
  dup.add("x", Tensor::zeros({1}));
  dup.add("x", Tensor::zeros({1}));
  CHECK_THROWS_WITH_AS(radgal::nn::write_safetensors(path, dup), doctest::Contains("given twice"),
                       SafetensorsError);
}

TEST_CASE("safetensors: every dtype converts to float32") {
  // Header offsets laid out by hand; values chosen to be exact in float32.
  const std::vector<uint8_t> f64 = bytes_of<double>({0.25, -3.0});
  const std::vector<uint8_t> f16 = bytes_of<uint16_t>({0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00});
  const std::vector<uint8_t> bf16 = bytes_of<uint16_t>({0x3f80, 0xc0a0});  // 1.0, -5.0
  const std::vector<uint8_t> i64 = bytes_of<int64_t>({-7, 255744});
  const std::vector<uint8_t> i32 = bytes_of<int32_t>({-2, 3});
  const std::vector<uint8_t> i16 = bytes_of<int16_t>({-300});
  const std::vector<uint8_t> i8 = bytes_of<int8_t>({-128});
  const std::vector<uint8_t> u64 = bytes_of<uint64_t>({12});
  const std::vector<uint8_t> u32 = bytes_of<uint32_t>({4000000});
  const std::vector<uint8_t> u16 = bytes_of<uint16_t>({65535});
  const std::vector<uint8_t> u8 = {0, 200, 255};
  const std::vector<uint8_t> boolean = {1, 0};
  std::vector<uint8_t> data;
  std::string header = "{";
  auto add = [&](const std::string& name, const std::string& dtype, const std::string& shape,
                 const std::vector<uint8_t>& bytes) {
    const size_t begin = data.size();
    data.insert(data.end(), bytes.begin(), bytes.end());
    header += (header.size() > 1 ? "," : "") + std::string("\"") + name + "\":{\"dtype\":\"" +
              dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + std::to_string(begin) +
              "," + std::to_string(data.size()) + "]}";
  };
  add("f64", "F64", "[2]", f64);
  add("f16", "F16", "[5]", f16);
  add("bf16", "BF16", "[2]", bf16);
  add("i64", "I64", "[2]", i64);
  add("i32", "I32", "[2]", i32);
  add("i16", "I16", "[1]", i16);
  add("i8", "I8", "[1]", i8);
  add("u64", "U64", "[]", u64);
  add("u32", "U32", "[1]", u32);
  add("u16", "U16", "[1]", u16);
  add("u8", "U8", "[3]", u8);
  add("bool", "BOOL", "[2]", boolean);
  header += ",\"__metadata__\":{\"k\":\"v\"}}";

  const NamedTensors t = radgal::nn::parse_safetensors(build(header, data), "dtypes");
  CHECK(t.find("f64")->to_vector() == std::vector<float>{0.25f, -3.f});
  const auto h = t.find("f16")->to_vector();
  CHECK(h[0] == 1.f);
  CHECK(h[1] == -2.f);
  CHECK(h[2] == doctest::Approx(1.f / 3.f).epsilon(1e-3));  // 0x3555 = 0.33325
  CHECK(h[3] == std::ldexp(1.f, -24));                      // smallest subnormal half
  CHECK(std::isinf(h[4]));
  CHECK(t.find("bf16")->to_vector() == std::vector<float>{1.f, -5.f});
  CHECK(t.find("i64")->to_vector() == std::vector<float>{-7.f, 255744.f});
  CHECK(t.find("i32")->to_vector() == std::vector<float>{-2.f, 3.f});
  CHECK(t.find("i16")->to_vector() == std::vector<float>{-300.f});
  CHECK(t.find("i8")->to_vector() == std::vector<float>{-128.f});
  CHECK(t.find("u64")->shape().empty());
  CHECK(t.find("u64")->item() == 12.f);
  CHECK(t.find("u32")->to_vector() == std::vector<float>{4000000.f});
  CHECK(t.find("u16")->to_vector() == std::vector<float>{65535.f});
  CHECK(t.find("u8")->to_vector() == std::vector<float>{0.f, 200.f, 255.f});
  CHECK(t.find("bool")->to_vector() == std::vector<float>{1.f, 0.f});
  CHECK(t.metadata.at("k") == "v");
}

TEST_CASE("safetensors: reads the files the Python safetensors package wrote") {
  const std::string dir = std::string(RADGAL_SHARED_DATA_DIR) + "/reference/";
  const NamedTensors w =
      radgal::nn::read_safetensors(dir + "agcnn_mirabest_confident.weights.safetensors");
  CHECK(w.tensors.size() == 86);
  REQUIRE(w.find("attention1.theta.weight"));
  CHECK(w.find("attention1.theta.weight")->shape() == radgal::Shape{64, 32, 1, 1});
  CHECK(w.find("conv1a.weight")->shape() == radgal::Shape{6, 1, 3, 3});
  CHECK(w.metadata.at("normalisation") == "range_norm");
  // The psi biases start at 10 and stay near it in training.
  CHECK(std::abs(w.find("attention1.psi.bias")->item() - 10.f) < 0.5f);

  const NamedTensors o =
      radgal::nn::read_safetensors(dir + "agcnn_mirabest_confident.outputs.safetensors");
  CHECK(o.find("probabilities")->shape() == radgal::Shape{104, 2});
  const auto targets = o.find("target")->to_vector();  // stored as I64
  CHECK(targets.size() == 104);
  CHECK(targets.front() == 0.f);
  CHECK(targets.back() == 1.f);
}

TEST_CASE("safetensors: broken files are refused with a message naming file and problem") {
  const std::string ok_entry = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::vector<uint8_t> eight(8, 0);

  SUBCASE("empty and tiny files") {
    CHECK(error_of({}).find("broken.safetensors: not a safetensors file") == 0);
    CHECK(error_of({1, 2, 3}).find("shorter than the 8-byte header length") != std::string::npos);
  }
  SUBCASE("text file") {
    const std::string text = "hello, this is not a model file at all\n";
    CHECK(error_of(std::vector<uint8_t>(text.begin(), text.end())).find("not a safetensors") !=
          std::string::npos);
  }
  SUBCASE("header length beyond the file") {
    auto bytes = build("{" + ok_entry + "}", eight);
    bytes.resize(20);
    CHECK(error_of(bytes).find("exceeds the 12 bytes that follow it") != std::string::npos);
  }
  SUBCASE("truncated data") {
    auto bytes = build("{" + ok_entry + "}", eight);
    bytes.pop_back();
    CHECK(error_of(bytes).find("truncated: tensor 'x' needs data bytes 0..8") != std::string::npos);
  }
  SUBCASE("header not JSON") {
    CHECK(error_of(build("{not json", eight)).find("not valid JSON") != std::string::npos);
  }
  SUBCASE("unknown dtype") {
    const std::string h = R"({"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})";
    CHECK(error_of(build(h, eight)).find("unsupported dtype 'Q4'") != std::string::npos);
  }
  SUBCASE("shape does not match the byte count") {
    const std::string h = R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})";
    CHECK(error_of(build(h, eight)).find("tensor 'x' has shape [3] of F32 (12 bytes)") !=
          std::string::npos);
  }
  SUBCASE("overlapping offsets") {
    const std::string h = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    CHECK(error_of(build(h, eight)).find("overlaps") != std::string::npos);
  }
  SUBCASE("offsets out of range") {
    const std::string h = R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
    CHECK(error_of(build(h, eight)).find("truncated") != std::string::npos);
  }
  SUBCASE("a hole in the data section") {
    const std::string h = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    CHECK(error_of(build(h, eight)).find("data bytes 0..4 belong to no tensor") !=
          std::string::npos);
  }
  SUBCASE("trailing bytes") {
    const std::string h = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
    CHECK(error_of(build(h, eight)).find("trailing") != std::string::npos);
  }
  SUBCASE("end before begin, negative offsets, missing keys, duplicate names") {
    CHECK(error_of(build(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", eight))
              .find("end before begin") != std::string::npos);
    CHECK(error_of(build(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", eight))
              .find("not a non-negative integer") != std::string::npos);
    CHECK(error_of(build(R"({"x":{"dtype":"F32","shape":[2]}})", eight))
              .find("no \"data_offsets\"") != std::string::npos);
    CHECK(error_of(build("{" + ok_entry + "," + ok_entry + "}", eight)).find("appears twice") !=
          std::string::npos);
  }
  SUBCASE("metadata that is not string to string") {
    const std::string h = "{" + ok_entry + R"(,"__metadata__":{"epoch":3}})";
    CHECK(error_of(build(h, eight)).find("__metadata__ 'epoch' is not a string") !=
          std::string::npos);
  }
  SUBCASE("a file that does not exist names the path") {
    CHECK_THROWS_WITH_AS(radgal::nn::read_safetensors("/nonexistent/dir/w.safetensors"),
                         doctest::Contains("/nonexistent/dir/w.safetensors: cannot open"),
                         SafetensorsError);
  }
  SUBCASE("a truncated file on disk names the path") {
    TempDir dir;
    const std::string path = dir.file("cut.safetensors");
    NamedTensors t;
    t.add("w", Tensor::ones({100}));
    radgal::nn::write_safetensors(path, t);
    fs::resize_file(path, fs::file_size(path) - 10);
    CHECK_THROWS_WITH_AS(radgal::nn::read_safetensors(path),
                         doctest::Contains((path + ": truncated: tensor 'w'").c_str()),
                         SafetensorsError);
  }
}
