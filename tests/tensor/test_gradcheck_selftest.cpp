// The gradient checker must be able to fail. Each case builds a function whose forward is right
// but whose recorded backward is wrong, using detach() to cut part of the graph, and expects the
// checker to reject it with a message that points at the element.
#include <doctest/doctest.h>

#include "gradcheck.h"

using namespace radgal;
using namespace radgal::testing;

TEST_SUITE_BEGIN("grad");

TEST_CASE("gradcheck self-test: a correct backward passes") {
  Generator gen(1);
  const Tensor x = uniform_tensor({3, 4}, gen);
  const auto r = check_gradients([](const std::vector<Tensor>& in) { return mul(in[0], in[0]); },
                                 {x}, smooth_options());
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked == 12);
}

TEST_CASE("gradcheck self-test: a gradient off by a factor fails") {
  // Forward x^2, backward x (the detached factor contributes nothing): half the true gradient.
  Generator gen(2);
  const Tensor x = away_from_zero({3, 4}, gen, 0.5f, 1.f);
  const auto r =
      check_gradients([](const std::vector<Tensor>& in) { return mul(in[0], in[0].detach()); }, {x},
                      smooth_options());
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("analytic") != std::string::npos);
  CHECK(r.message.find("numeric") != std::string::npos);
  CHECK(r.message.find("element (0, 0)") != std::string::npos);
}

TEST_CASE("gradcheck self-test: a missing gradient fails") {
  // Forward 2x, but the only recorded path is x * 0: the analytic gradient is zero.
  Generator gen(3);
  const Tensor x = uniform_tensor({5}, gen);
  const auto r = check_gradients(
      [](const std::vector<Tensor>& in) { return add(mul(in[0].detach(), 2.f), mul(in[0], 0.f)); },
      {x}, linear_options());
  CHECK_FALSE(r.ok);
}

TEST_CASE("gradcheck self-test: a permuted gradient fails") {
  // Forward swaps the two rows; the recorded path is the identity. A plain sum of the outputs
  // could not tell these apart, the random output weights can.
  Generator gen(4);
  const Tensor x = uniform_tensor({2, 3}, gen);
  auto swapped_forward_identity_backward = [](const std::vector<Tensor>& in) {
    const Tensor d = in[0].detach();
    const Tensor swapped = stack({d.select(0, 1), d.select(0, 0)}, 0);
    return add(swapped, sub(in[0], in[0].detach()));
  };
  const auto r = check_gradients(swapped_forward_identity_backward, {x}, linear_options());
  CHECK_FALSE(r.ok);
}

TEST_CASE("gradcheck self-test: an error in one input of several is found") {
  // Correct for a, wrong for b (b's gradient is doubled by adding b - detach(b) once more).
  Generator gen(5);
  const Tensor a = uniform_tensor({2, 2}, gen), b = uniform_tensor({2, 2}, gen);
  auto wrong_in_b = [](const std::vector<Tensor>& in) {
    return add(mul(in[0], in[1]), mul(sub(in[1], in[1].detach()), in[0].detach()));
  };
  const auto r = check_gradients(wrong_in_b, {a, b}, linear_options());
  CHECK_FALSE(r.ok);
  CHECK(r.message.rfind("input 1", 0) == 0);
}

TEST_CASE("gradcheck self-test: inputs marked constant are not differentiated") {
  Generator gen(6);
  const Tensor a = uniform_tensor({3}, gen), b = uniform_tensor({3}, gen);
  // The gradient with respect to b would be wrong, but b is declared constant.
  auto wrong_in_b = [](const std::vector<Tensor>& in) { return mul(in[0], in[1].detach()); };
  const auto r = check_gradients(wrong_in_b, {a, b}, linear_options(), {true, false});
  INFO(r.message);
  CHECK(r.ok);
  CHECK(r.checked == 3);
}

TEST_CASE("gradcheck self-test: the element sample still covers the last element") {
  // Wrong only at the last element: the sample always includes the first and last positions.
  Generator gen(7);
  const Tensor x = uniform_tensor({50}, gen);
  std::vector<float> mask(50, 0.f);
  mask[49] = 1.f;
  const Tensor m = Tensor::from_vector(mask, {50});
  auto wrong_at_end = [m](const std::vector<Tensor>& in) {
    return add(in[0], mul(sub(in[0], in[0].detach()), m));
  };
  GradcheckOptions o = linear_options();
  o.max_elements_per_input = 5;
  const auto r = check_gradients(wrong_at_end, {x}, o);
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("element (49)") != std::string::npos);
  CHECK(r.checked <= 5);
}

TEST_CASE("gradcheck self-test: the caller's tensors are left untouched") {
  Generator gen(8);
  const Tensor x = uniform_tensor({4}, gen);
  const std::vector<float> before = x.to_vector();
  (void)check_gradients([](const std::vector<Tensor>& in) { return exp(in[0]); }, {x},
                        smooth_options());
  CHECK(x.to_vector() == before);
  CHECK_FALSE(x.requires_grad());
}

TEST_CASE("gradcheck self-test: a step that is not a power of two is refused") {
  GradcheckOptions o;
  o.step = 0.01f;
  const Tensor x = Tensor::ones({2});
  CHECK_THROWS_AS(check_gradients([](const std::vector<Tensor>& in) { return in[0]; }, {x}, o),
                  std::runtime_error);
}

TEST_CASE("backward(w) gives the gradient of sum(out * w), the checker's premise") {
  Generator gen(9);
  const Tensor values = uniform_tensor({3, 4}, gen), w = uniform_tensor({3, 4}, gen);
  Tensor a = values.clone().detach(), b = values.clone().detach();
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  tanh(a).backward(w);
  Tensor loss = sum(mul(tanh(b), w));
  loss.backward();
  CHECK(a.grad().to_vector() == b.grad().to_vector());
}

TEST_SUITE_END();
