// Operators against PyTorch: forward values and gradients read from the fixtures that
// tests/fixtures/make_op_fixtures.py wrote (format described there). Gradients are those of
// loss = sum(out * w) with the weights w[i] = ((i * 7919) % 17 - 8) / 8.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/tensor.h"

using namespace radgal;
using nlohmann::json;

namespace {

const std::string kOpsDir = std::string(RADGAL_FIXTURES_DIR) + "/ops";

struct StoredTensor {
  Shape shape;
  int64_t every = 1;          // only elements 0, every, 2 * every, ... are stored
  std::vector<float> values;  // the stored elements
};

struct Fixture {
  std::string name, op;
  json params;
  std::map<std::string, StoredTensor> tensors;

  const StoredTensor& stored(const std::string& key) const {
    const auto it = tensors.find(key);
    if (it == tensors.end()) throw std::runtime_error(name + ": no tensor '" + key + "'");
    return it->second;
  }
  bool has(const std::string& key) const { return tensors.count(key) != 0; }
  // A full tensor as a fresh leaf.
  Tensor tensor(const std::string& key, bool requires_grad = false) const {
    const StoredTensor& s = stored(key);
    if (s.every != 1) throw std::runtime_error(name + ": '" + key + "' is subsampled");
    Tensor t = Tensor::from_vector(s.values, s.shape);
    if (requires_grad) t.set_requires_grad(true);
    return t;
  }
};

Fixture read_fixture(const std::string& name) {
  const std::string path = kOpsDir + "/" + name + ".bin";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  std::string header;
  std::getline(in, header);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  const json h = json::parse(header);
  if (h.at("format") != "radgal-op-fixture-1") {
    throw std::runtime_error(path + ": unknown format");
  }
  Fixture f;
  f.name = name;
  f.op = h.at("op").get<std::string>();
  f.params = h.at("params");
  for (const auto& [key, info] : h.at("tensors").items()) {
    StoredTensor s;
    s.shape = info.at("shape").get<Shape>();
    s.every = info.at("every").get<int64_t>();
    const int64_t n = (shape_numel(s.shape) + s.every - 1) / s.every;
    const int64_t offset = info.at("offset").get<int64_t>();
    if ((offset + n) * 4 > static_cast<int64_t>(data.size())) {
      throw std::runtime_error(path + ": tensor '" + key + "' runs past the end of the file");
    }
    s.values.resize(static_cast<size_t>(n));
    // Little-endian float32; every machine we build for is little-endian (checked below).
    std::memcpy(s.values.data(), data.data() + offset * 4, static_cast<size_t>(n) * 4);
    f.tensors[key] = std::move(s);
  }
  return f;
}

Tensor output_weights(const Shape& shape) {
  std::vector<float> w(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = static_cast<float>(static_cast<int64_t>((i * 7919) % 17) - 8) / 8.f;
  }
  return Tensor::from_vector(w, shape);
}

struct Tolerance {
  double atol, rtol;
};

// Compares `actual` with the stored reference: shape, then every stored element within
// atol + rtol * |reference|. Reports the first mismatch and the largest error.
void check_close(const Fixture& f, const std::string& key, const Tensor& actual, Tolerance tol) {
  INFO(f.name << " " << key);
  const StoredTensor& ref = f.stored(key);
  REQUIRE(actual.defined());
  REQUIRE(shape_to_string(actual.shape()) == shape_to_string(ref.shape));
  const std::vector<float> a = actual.to_vector();
  double max_err = 0.0;
  std::string first_mismatch;
  for (size_t i = 0; i < ref.values.size(); ++i) {
    const size_t k = i * static_cast<size_t>(ref.every);
    const double r = ref.values[i], err = std::fabs(a[k] - r);
    max_err = std::max(max_err, err);
    if (first_mismatch.empty() && !(err <= tol.atol + tol.rtol * std::fabs(r))) {
      std::ostringstream s;
      s << "flat index " << k << ": ours " << a[k] << ", torch " << r;
      first_mismatch = s.str();
    }
  }
  INFO("first mismatch: " << first_mismatch << "; max |error| " << max_err);
  CHECK(first_mismatch.empty());
}

// Per-op tolerances (forward, gradient), with the reason.
Tolerance forward_tolerance(const std::string& op) {
  // Sums of up to 150 products of order-1 numbers: a different summation order than PyTorch's
  // moves results by a few ulp of the largest partial sum.
  if (op == "conv2d" || op == "linear" || op == "matmul") return {2e-5, 2e-5};
  // Mean and variance of up to 100 values, then a division by sqrt(var + eps).
  if (op == "batch_norm2d" || op == "var") return {2e-5, 2e-5};
  // Everything else is a handful of float operations per element.
  return {1e-5, 1e-5};
}

Tolerance gradient_tolerance(const std::string& op) {
  // Weight and bias gradients sum over batch and every output position (up to 300 terms).
  if (op == "conv2d" || op == "linear" || op == "matmul") return {1e-4, 1e-4};
  // The batch-norm input gradient subtracts two means of order 1 from each term.
  if (op == "batch_norm2d") return {5e-5, 1e-4};
  // The resize backward adds up to 9 (downsampling: up to ~4 x 4) weighted terms per input.
  return {2e-5, 2e-5};
}

// Runs one fixture: builds leaves from the stored inputs, calls the operator, compares the
// forward and every stored "grad_<input>".
void run_fixture(const Fixture& f) {
  std::map<std::string, Tensor> leaves;
  auto input = [&](const std::string& key) -> Tensor& {
    leaves[key] = f.tensor(key, true);
    return leaves[key];
  };
  const json& p = f.params;
  Tensor out;

  if (f.op == "conv2d") {
    Conv2dOptions o;
    o.stride = p.at("stride").get<int64_t>();
    o.padding = p.at("padding").get<int64_t>();
    o.dilation = p.at("dilation").get<int64_t>();
    const Tensor x = input("x"), w = input("weight");
    const Tensor b = p.at("bias").get<bool>() ? input("bias") : Tensor();
    out = conv2d(x, w, b, o);
  } else if (f.op == "max_pool2d" || f.op == "avg_pool2d") {
    Pool2dOptions o;
    o.kernel = p.at("kernel").get<int64_t>();
    o.stride = p.at("stride").get<int64_t>();
    o.padding = p.at("padding").get<int64_t>();
    out = f.op == "max_pool2d" ? max_pool2d(input("x"), o) : avg_pool2d(input("x"), o);
  } else if (f.op == "batch_norm2d") {
    Tensor running_mean = f.tensor("running_mean_in"), running_var = f.tensor("running_var_in");
    const Tensor x = input("x"), gamma = input("gamma"), beta = input("beta");
    out = batch_norm2d(x, gamma, beta, running_mean, running_var, p.at("training").get<bool>(),
                       p.at("momentum").get<float>(), p.at("eps").get<float>());
    // Running statistics: an exponential average of a handful of numbers.
    check_close(f, "running_mean_out", running_mean, {1e-6, 1e-5});
    check_close(f, "running_var_out", running_var, {1e-6, 1e-5});
  } else if (f.op == "upsample_bilinear2d") {
    out = upsample_bilinear2d(input("x"), p.at("out_h").get<int64_t>(),
                              p.at("out_w").get<int64_t>(), p.at("align_corners").get<bool>());
  } else if (f.op == "softmax") {
    out = softmax(input("x"), p.at("axis").get<int64_t>());
  } else if (f.op == "log_softmax") {
    out = log_softmax(input("x"), p.at("axis").get<int64_t>());
  } else if (f.op == "cross_entropy") {
    out = cross_entropy(input("logits"), p.at("targets").get<std::vector<int64_t>>(),
                        p.at("class_weights").get<std::vector<float>>(),
                        p.at("label_smoothing").get<float>());
  } else if (f.op == "linear") {
    const Tensor x = input("x"), w = input("weight");
    const Tensor b = p.at("bias").get<bool>() ? input("bias") : Tensor();
    out = linear(x, w, b);
  } else if (f.op == "matmul") {
    const Tensor a = input("a"), b = input("b");
    out = matmul(a, b);
  } else if (f.op == "var") {
    out = var(input("x"), p.at("axes").get<std::vector<int64_t>>(), p.at("keepdim").get<bool>(),
              p.at("correction").get<int>());
  } else {
    FAIL("fixture " << f.name << " has an op this test does not know: " << f.op);
  }

  check_close(f, "out", out, forward_tolerance(f.op));
  sum(mul(out, output_weights(out.shape()))).backward();
  int gradients = 0;
  for (const auto& [key, leaf] : leaves) {
    check_close(f, "grad_" + key, leaf.grad(), gradient_tolerance(f.op));
    ++gradients;
  }
  CHECK(gradients > 0);
}

json read_index() {
  std::ifstream in(kOpsDir + "/index.json");
  REQUIRE_MESSAGE(in.good(), "missing " << kOpsDir << "/index.json");
  return json::parse(in);
}

// Runs every indexed fixture whose op is in `ops`.
void run_fixtures_of(const std::set<std::string>& ops) {
  int ran = 0;
  const json index = read_index();
  for (const json& entry : index.at("cases")) {
    if (!ops.count(entry.at("op").get<std::string>())) continue;
    const std::string name = entry.at("name");
    SUBCASE(name.c_str()) {
      try {
        run_fixture(read_fixture(name));
      } catch (const std::exception& e) {
        FAIL(name << " threw: " << e.what());
      }
    }
    ++ran;
  }
  CHECK(ran > 0);
}

const std::set<std::string> kTestedOps = {
    "conv2d",  "max_pool2d",  "avg_pool2d",    "batch_norm2d", "upsample_bilinear2d",
    "softmax", "log_softmax", "cross_entropy", "linear",       "matmul",
    "var"};

}  // namespace

TEST_SUITE_BEGIN("fixtures");

TEST_CASE("fixtures: the index lists only ops the tests know, and the files are readable") {
  const uint32_t one = 1;
  unsigned char first_byte = 0;
  std::memcpy(&first_byte, &one, 1);
  REQUIRE_MESSAGE(first_byte == 1, "the fixture reader assumes a little-endian machine");
  const json index = read_index();
  CHECK(index.at("cases").size() >= 30);
  for (const json& entry : index.at("cases")) {
    const std::string op = entry.at("op");
    INFO(entry.at("name").get<std::string>());
    CHECK(kTestedOps.count(op) == 1);
    CHECK_NOTHROW(read_fixture(entry.at("name")));
  }
}

TEST_CASE("fixtures: conv2d against PyTorch") {
  run_fixtures_of({"conv2d"});
}
TEST_CASE("fixtures: max_pool2d and avg_pool2d against PyTorch") {
  run_fixtures_of({"max_pool2d", "avg_pool2d"});
}
TEST_CASE("fixtures: batch_norm2d (train with running stats, eval) against PyTorch") {
  run_fixtures_of({"batch_norm2d"});
}
TEST_CASE("fixtures: upsample_bilinear2d against PyTorch") {
  run_fixtures_of({"upsample_bilinear2d"});
}
TEST_CASE("fixtures: softmax, log_softmax, cross_entropy against PyTorch") {
  run_fixtures_of({"softmax", "log_softmax", "cross_entropy"});
}
TEST_CASE("fixtures: linear, matmul, var against PyTorch") {
  run_fixtures_of({"linear", "matmul", "var"});
}

TEST_SUITE_END();
