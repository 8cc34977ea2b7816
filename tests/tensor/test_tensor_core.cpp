// Storage, factories, views and copies: which operations share storage, the strides and offsets
// they produce, and the shape errors they raise.
#include <doctest/doctest.h>

#include "tensor/ops.h"
#include "tensor/tensor.h"
#include "tests/tensor/tensor_test_util.h"

using namespace radgal;
using radgal::test::check_shape;
using radgal::test::check_values;

TEST_SUITE_BEGIN("semantics");

TEST_CASE("storage is 64-byte aligned and factories fill as documented") {
  Tensor t = Tensor::empty({3, 5});
  CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  CHECK(t.is_contiguous());
  CHECK(t.strides() == Shape{5, 1});
  check_values(Tensor::zeros({2, 2}), {0, 0, 0, 0});
  check_values(Tensor::full({3}, 2.5f), {2.5f, 2.5f, 2.5f});
  check_values(Tensor::arange(4), {0, 1, 2, 3});
  Tensor s = Tensor::scalar(7);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 7);
  CHECK_THROWS_AS(Tensor::from_vector({1, 2, 3}, {2, 2}), ShapeError);
  CHECK(shape_to_string({2, 3, 150, 150}) == "[2, 3, 150, 150]");
}

TEST_CASE("reshape and view share storage, a non-contiguous reshape copies") {
  Tensor a = Tensor::arange(6).reshape({2, 3});
  Tensor v = a.view({3, 2});
  CHECK(v.storage_id() == a.storage_id());
  check_shape(a.reshape({-1}), {6});
  v.data()[0] = 42;
  CHECK(a.at({0, 0}) == 42);

  Tensor t = a.transpose(0, 1);  // (3, 2), not contiguous
  CHECK_FALSE(t.is_contiguous());
  CHECK_THROWS_AS(t.view({6}), ShapeError);
  Tensor r = t.reshape({6});
  CHECK(r.storage_id() != a.storage_id());
  check_values(r, {42, 3, 1, 4, 2, 5});
  CHECK_THROWS_AS(a.reshape({4, 2}), ShapeError);
}

TEST_CASE("permute and transpose swap strides without copying") {
  Tensor a = Tensor::arange(24).reshape({2, 3, 4});
  Tensor p = a.permute({2, 0, 1});
  CHECK(p.storage_id() == a.storage_id());
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Shape{1, 12, 4});
  CHECK(p.at({3, 1, 2}) == a.at({1, 2, 3}));
  Tensor c = p.contiguous();
  CHECK(c.storage_id() != a.storage_id());
  CHECK(c.strides() == Shape{6, 3, 1});
  CHECK(c.at({3, 1, 2}) == 23);
  CHECK(a.contiguous().storage_id() == a.storage_id());
  CHECK_THROWS_AS(a.permute({0, 0, 1}), ShapeError);
}

TEST_CASE("slice with step, select, and their offsets") {
  Tensor a = Tensor::arange(20).reshape({4, 5});
  Tensor s = a.slice(1, 1, 5, 2);  // columns 1 and 3
  CHECK(s.shape() == Shape{4, 2});
  CHECK(s.strides() == Shape{5, 2});
  CHECK(s.offset() == 1);
  check_values(s, {1, 3, 6, 8, 11, 13, 16, 18});
  Tensor r = a.slice(0, -2, 100);  // Python-style bounds
  CHECK(r.offset() == 10);
  check_values(r.select(1, -1), {14, 19});
  Tensor row = a.select(0, 2);
  CHECK(row.shape() == Shape{5});
  CHECK(row.offset() == 10);
  CHECK(a.slice(1, 4, 2).numel() == 0);
  CHECK_THROWS_AS(a.select(0, 4), ShapeError);
  CHECK_THROWS_AS(a.slice(0, 0, 2, 0), ShapeError);
}

TEST_CASE("expand uses stride 0, squeeze, unsqueeze and flatten are views") {
  Tensor b = Tensor::from_vector({1, 2, 3}, {3, 1});
  Tensor e = b.expand({2, 3, 4});
  CHECK(e.strides() == Shape{0, 1, 0});
  CHECK(e.storage_id() == b.storage_id());
  CHECK(e.at({1, 2, 3}) == 3);
  CHECK_THROWS_AS(b.expand({2, 2}), ShapeError);
  CHECK(b.expand({3, 2}).strides() == Shape{1, 0});

  Tensor u = b.unsqueeze(0);
  CHECK(u.shape() == Shape{1, 3, 1});
  CHECK(u.squeeze(-1).shape() == Shape{1, 3});
  CHECK(u.squeeze(1).shape() == Shape{1, 3, 1});  // not size 1: unchanged
  Tensor x = Tensor::zeros({2, 3, 4, 5});
  CHECK(x.flatten(1).shape() == Shape{2, 60});
  CHECK(flatten(x).shape() == Shape{2, 60});
  CHECK(x.flatten().shape() == Shape{120});
  CHECK(x.flatten(1, 2).shape() == Shape{2, 12, 5});
}

TEST_CASE("copy_ and fill_ write through views") {
  Tensor a = Tensor::zeros({3, 4});
  a.slice(1, 0, 4, 2).fill_(1);
  check_values(a.select(0, 0), {1, 0, 1, 0});
  a.select(1, 3).copy_(Tensor::from_vector({7, 8, 9}, {3}));
  CHECK(a.at({2, 3}) == 9);
  CHECK_THROWS_AS(a.copy_(Tensor::zeros({4, 3})), ShapeError);
  // Overlapping source and destination: the copy reads the old values.
  Tensor v = Tensor::arange(5);
  v.slice(0, 1, 5).copy_(v.slice(0, 0, 4));
  check_values(v, {0, 0, 1, 2, 3});
}

TEST_CASE("clone is a fresh copy, detach shares storage") {
  Tensor a = Tensor::arange(4);
  Tensor c = a.clone();
  CHECK(c.storage_id() != a.storage_id());
  Tensor d = a.detach();
  CHECK(d.storage_id() == a.storage_id());
}

TEST_CASE("broadcasting follows numpy, and errors name the op and both shapes") {
  Tensor a = Tensor::arange(6).reshape({2, 3});
  Tensor col = Tensor::from_vector({10, 20}, {2, 1});
  Tensor row = Tensor::from_vector({1, 2, 3}, {3});
  check_values(a + col, {10, 11, 12, 23, 24, 25});
  check_values(a * row, {0, 2, 6, 3, 8, 15});
  check_values(col - row, {9, 8, 7, 19, 18, 17});
  check_shape(Tensor::zeros({5, 1, 3}) + Tensor::zeros({4, 1}), {5, 4, 3});
  check_values(a.transpose(0, 1) + Tensor::scalar(1), {1, 4, 2, 5, 3, 6});

  try {
    add(Tensor::zeros({2, 3}), Tensor::zeros({4}));
    FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("add") != std::string::npos);
    CHECK(msg.find("[2, 3]") != std::string::npos);
    CHECK(msg.find("[4]") != std::string::npos);
  }
  try {
    matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5}));
    FAIL("expected a ShapeError");
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("matmul") != std::string::npos);
    CHECK(msg.find("[2, 3]") != std::string::npos);
    CHECK(msg.find("[4, 5]") != std::string::npos);
  }
}

TEST_CASE("half precision and CUDA tensors fail with a clear message") {
  Tensor h = Tensor::empty({2}, DType::f16);
  CHECK(h.dtype() == DType::f16);
  CHECK_THROWS_WITH_AS(add(h, h), doctest::Contains("float32 only"), std::runtime_error);
  CHECK_THROWS_AS(h.data(), std::runtime_error);
  CHECK_THROWS_WITH_AS(Tensor::empty({2}, DType::f32, Device{DeviceKind::cuda, 0}),
                       doctest::Contains("without CUDA"), std::runtime_error);
}

TEST_CASE("undefined tensors are rejected with the op name") {
  CHECK_THROWS_WITH_AS(relu(Tensor()), doctest::Contains("relu"), std::invalid_argument);
  CHECK_THROWS_AS(Tensor().shape(), std::runtime_error);
}

TEST_SUITE_END();
