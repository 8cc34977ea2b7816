// Autograd semantics: what accumulates and what is overwritten, no_grad, detach, gradients
// through views, and that the graph is freed after backward.
#include <doctest/doctest.h>

#include <memory>

#include "tensor/ops.h"
#include "tensor/tensor.h"
#include "tests/tensor/tensor_test_util.h"

using namespace radgal;
using radgal::test::check_values;

TEST_SUITE_BEGIN("semantics");

TEST_CASE("a tensor used twice receives the sum of both gradients") {
  Tensor x = Tensor::from_vector({1, 2, 3}, {3});
  x.set_requires_grad();
  Tensor y = sum(x * x + x);  // dy/dx = 2x + 1
  y.backward();
  check_values(x.grad(), {3, 5, 7});
  CHECK(x.is_leaf());
  CHECK_FALSE(y.is_leaf());
}

TEST_CASE("two backward calls accumulate into .grad(), zero_grad drops it") {
  Tensor x = Tensor::from_vector({1, -2}, {2});
  x.set_requires_grad();
  sum(mul(x, 3.f)).backward();
  Tensor held = x.grad();
  sum(mul(x, 3.f)).backward();
  check_values(x.grad(), {6, 6});
  // The second pass added in place: a handle taken after the first pass sees the sum too.
  check_values(held, {6, 6});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x).backward();
  check_values(x.grad(), {1, 1});
}

TEST_CASE("backward(grad_output) seeds the walk, shape mismatch is an error") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  x.set_requires_grad();
  Tensor y = x * 2.f;
  y.backward(Tensor::from_vector({1, 0, 0, 10}, {2, 2}));
  check_values(x.grad(), {2, 0, 0, 20});
  Tensor z = x * 2.f;
  CHECK_THROWS_AS(z.backward(Tensor::ones({4})), ShapeError);
  CHECK_THROWS_AS(z.backward(), ShapeError);  // more than one element needs grad_output
}

TEST_CASE("the first gradient is a copy: two leaves never share a .grad() buffer") {
  Tensor a = Tensor::ones({2}), b = Tensor::ones({2});
  a.set_requires_grad();
  b.set_requires_grad();
  (a + b).backward(Tensor::from_vector({1, 2}, {2}));
  CHECK(a.grad().storage_id() != b.grad().storage_id());
  sum(a).backward();
  check_values(a.grad(), {2, 3});
  check_values(b.grad(), {1, 2});
}

TEST_CASE("no_grad records nothing, grad mode is restored after the guard") {
  Tensor x = Tensor::ones({2});
  x.set_requires_grad();
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor y = x * 2.f;
    CHECK_FALSE(y.requires_grad());
    CHECK_FALSE(static_cast<bool>(y.grad_fn()));
    CHECK_THROWS_AS(sum(y).backward(), std::runtime_error);
  }
  CHECK(grad_enabled());
  CHECK((x * 2.f).requires_grad());
}

TEST_CASE("detach cuts the history but shares storage") {
  Tensor x = Tensor::from_vector({1, 2}, {2});
  x.set_requires_grad();
  Tensor y = x * 3.f;
  Tensor d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.storage_id() == y.storage_id());
  Tensor z = sum(y * d);  // d is a constant: dz/dx = 3 * d = 9x
  z.backward();
  check_values(x.grad(), {9, 18});
  CHECK_THROWS_AS(y.set_requires_grad(), std::runtime_error);
}

TEST_CASE("inputs that do not require a gradient get none") {
  Tensor w = Tensor::from_vector({2}, {1});
  w.set_requires_grad();
  Tensor c = Tensor::from_vector({5}, {1});
  sum(w * c).backward();
  check_values(w.grad(), {5});
  CHECK_FALSE(c.grad().defined());
}

TEST_CASE("gradients flow back through views to the base shape") {
  Tensor x = Tensor::arange(6).reshape({2, 3}).detach();
  x.set_requires_grad();

  SUBCASE("slice with step") {
    sum(x.slice(1, 0, 3, 2) * 2.f).backward();
    check_values(x.grad(), {2, 0, 2, 2, 0, 2});
  }
  SUBCASE("permute then reshape") {
    Tensor w = Tensor::arange(6).reshape({3, 2});
    sum(x.permute({1, 0}) * w).backward();  // grad[i, j] = w[j, i]
    check_values(x.grad(), {0, 2, 4, 1, 3, 5});
  }
  SUBCASE("expand sums over the broadcast dims") {
    Tensor b = Tensor::from_vector({1, 2}, {2, 1}).detach();
    b.set_requires_grad();
    Tensor e = b.expand({4, 2, 3});
    sum(e * e).backward();  // d/db sum over 12 copies of b^2 = 24 b
    check_values(b.grad(), {24, 48});
  }
  SUBCASE("select and unsqueeze") {
    sum(x.select(0, 1).unsqueeze(0) * 3.f).backward();
    check_values(x.grad(), {0, 0, 0, 3, 3, 3});
  }
  SUBCASE("broadcast binary reduces to each input") {
    Tensor b = Tensor::from_vector({1, 2, 3}, {3}).detach();
    b.set_requires_grad();
    sum(x * b).backward();
    check_values(b.grad(), {3, 5, 7});  // column sums of x
    check_values(x.grad(), {1, 2, 3, 1, 2, 3});
  }
}

TEST_CASE("the graph is freed after backward") {
  Tensor x = Tensor::ones({3});
  x.set_requires_grad();
  std::weak_ptr<Node> inner;
  Tensor loss;
  {
    Tensor h = exp(x * 2.f);
    inner = h.grad_fn();
    loss = sum(h);
  }
  CHECK_FALSE(inner.expired());  // still reachable from loss
  loss.backward();
  CHECK(inner.expired());
  // The root's own node survives with loss but refuses a second walk.
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("already freed"), std::runtime_error);
}

TEST_CASE("a graph that is never walked is freed with its tensors (no cycles)") {
  Tensor x = Tensor::ones({3});
  x.set_requires_grad();
  std::weak_ptr<Node> node;
  {
    Tensor y = sigmoid(x);  // saves its own output for backward
    node = y.grad_fn();
    CHECK_FALSE(node.expired());
  }
  CHECK(node.expired());
}

TEST_CASE("backward on a leaf accumulates into its own gradient") {
  Tensor x = Tensor::scalar(3);
  x.set_requires_grad();
  x.backward();
  CHECK(x.grad().item() == 1);
}

TEST_SUITE_END();
