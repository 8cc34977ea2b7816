// Gradient checks of the Tensor view methods and the shape operators. Everything here moves
// values without arithmetic, so the differences are exact and the tolerance only covers the
// float rounding of the weighted sum (linear_options).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "gradcheck.h"

using namespace radgal;
using namespace radgal::testing;

namespace {

void check_view(const std::string& name, const Shape& shape, const TensorFunction& fn,
                uint64_t seed) {
  Generator gen(seed);
  check_gradients_match(name, fn, {uniform_tensor(shape, gen)}, linear_options());
}

}  // namespace

TEST_SUITE_BEGIN("grad");

TEST_CASE("gradcheck: reshape and view") {
  check_view(
      "reshape", {2, 3, 5},
      [](const auto& in) {
        return in[0].reshape({6, 5});
      },
      51);
  check_view(
      "reshape -1", {2, 3, 5},
      [](const auto& in) {
        return in[0].reshape({-1, 3});
      },
      52);
  check_view(
      "reshape to rank 0", {1}, [](const auto& in) { return in[0].reshape({}); }, 53);
  // A transposed tensor cannot be viewed with a new shape: reshape has to copy.
  check_view(
      "reshape of a transposed tensor", {3, 4},
      [](const auto& in) {
        return in[0].transpose(0, 1).reshape({2, 6});
      },
      54);
  check_view(
      "view", {2, 3, 5},
      [](const auto& in) {
        return in[0].view({5, 3, 2});
      },
      55);
}

TEST_CASE("gradcheck: permute and transpose") {
  check_view(
      "permute", {2, 3, 5},
      [](const auto& in) {
        return in[0].permute({2, 0, 1});
      },
      56);
  check_view(
      "permute identity", {2, 3},
      [](const auto& in) {
        return in[0].permute({0, 1});
      },
      57);
  check_view(
      "transpose", {2, 3, 5}, [](const auto& in) { return in[0].transpose(0, 2); }, 58);
  check_view(
      "transpose negative", {2, 3, 5}, [](const auto& in) { return in[0].transpose(-1, -2); }, 59);
}

TEST_CASE("gradcheck: slice and select") {
  check_view(
      "slice", {5, 4}, [](const auto& in) { return in[0].slice(0, 1, 4); }, 60);
  check_view(
      "slice step 2", {3, 7}, [](const auto& in) { return in[0].slice(1, 1, 7, 2); }, 61);
  check_view(
      "slice step 3 to the end", {3, 8}, [](const auto& in) { return in[0].slice(1, 0, 8, 3); },
      62);
  check_view(
      "slice length 1", {4, 3}, [](const auto& in) { return in[0].slice(0, 3, 4); }, 63);
  check_view(
      "slice negative dim", {2, 3, 5}, [](const auto& in) { return in[0].slice(-1, 2, 5); }, 64);
  check_view(
      "select", {4, 3}, [](const auto& in) { return in[0].select(0, 2); }, 65);
  check_view(
      "select last dim", {2, 3, 5}, [](const auto& in) { return in[0].select(-1, 4); }, 66);
  check_view(
      "slice of a slice, then select", {6, 5},
      [](const auto& in) { return in[0].slice(0, 1, 6, 2).slice(1, 1, 4).select(1, 2); }, 67);
}

TEST_CASE("gradcheck: expand sums the gradient over broadcast positions") {
  check_view(
      "expand (3,1) -> (3,4)", {3, 1},
      [](const auto& in) {
        return in[0].expand({3, 4});
      },
      68);
  check_view(
      "expand (1,1) -> (2,5)", {1, 1},
      [](const auto& in) {
        return in[0].expand({2, 5});
      },
      69);
  check_view(
      "expand (3,1) -> (2,3,4) with a new leading dim", {3, 1},
      [](const auto& in) {
        return in[0].expand({2, 3, 4});
      },
      70);
}

TEST_CASE("gradcheck: squeeze, unsqueeze, flatten") {
  check_view(
      "squeeze", {3, 1, 4}, [](const auto& in) { return in[0].squeeze(1); }, 71);
  check_view(
      "squeeze negative", {3, 4, 1}, [](const auto& in) { return in[0].squeeze(-1); }, 72);
  check_view(
      "unsqueeze 0", {3, 4}, [](const auto& in) { return in[0].unsqueeze(0); }, 73);
  check_view(
      "unsqueeze at the end", {3, 4}, [](const auto& in) { return in[0].unsqueeze(2); }, 74);
  check_view(
      "unsqueeze -1", {3, 4}, [](const auto& in) { return in[0].unsqueeze(-1); }, 75);
  check_view(
      "Tensor::flatten all", {2, 3, 5}, [](const auto& in) { return in[0].flatten(); }, 76);
  check_view(
      "Tensor::flatten 1..2", {2, 3, 5, 2}, [](const auto& in) { return in[0].flatten(1, 2); }, 77);
  check_view(
      "flatten op default", {2, 3, 5}, [](const auto& in) { return flatten(in[0]); }, 78);
  check_view(
      "flatten op of a permuted tensor", {2, 3, 5},
      [](const auto& in) {
        return flatten(in[0].permute({0, 2, 1}), 0, -1);
      },
      79);
}

TEST_CASE("gradcheck: contiguous and clone") {
  check_view(
      "contiguous of a permuted tensor", {2, 3, 5},
      [](const auto& in) {
        return in[0].permute({1, 2, 0}).contiguous();
      },
      80);
  check_view(
      "contiguous of a contiguous tensor", {2, 3},
      [](const auto& in) { return in[0].contiguous(); }, 81);
  check_view(
      "clone", {2, 3}, [](const auto& in) { return in[0].clone(); }, 82);
  check_view(
      "clone of a strided slice", {4, 6},
      [](const auto& in) { return in[0].slice(1, 0, 6, 2).clone(); }, 83);
}

TEST_CASE("gradcheck: views feeding arithmetic") {
  // Non-contiguous operands into elementwise ops and a reduction.
  Generator gen(84);
  check_gradients_match(
      "mul of a transposed view and an expanded view",
      [](const std::vector<Tensor>& in) {
        return mul(in[0].transpose(0, 1), in[1].expand({4, 3}));
      },
      {uniform_tensor({3, 4}, gen), uniform_tensor({4, 1}, gen)}, linear_options());
  check_gradients_match(
      "sum over a strided slice",
      [](const std::vector<Tensor>& in) { return sum(in[0].slice(0, 0, 5, 2), {0}); },
      {uniform_tensor({5, 3}, gen)}, linear_options());
}

TEST_CASE("gradcheck: concat") {
  Generator gen(85);
  check_gradients_match(
      "concat axis 1, three sizes",
      [](const std::vector<Tensor>& in) {
        return concat({in[0], in[1], in[2]}, 1);
      },
      {uniform_tensor({2, 3}, gen), uniform_tensor({2, 1}, gen), uniform_tensor({2, 4}, gen)},
      linear_options());
  check_gradients_match(
      "concat axis 0",
      [](const std::vector<Tensor>& in) {
        return concat({in[0], in[1]}, 0);
      },
      {uniform_tensor({1, 3}, gen), uniform_tensor({3, 3}, gen)}, linear_options());
  check_gradients_match(
      "concat axis -1 of 4-D",
      [](const std::vector<Tensor>& in) {
        return concat({in[0], in[1]}, -1);
      },
      {uniform_tensor({2, 1, 3, 2}, gen), uniform_tensor({2, 1, 3, 5}, gen)}, linear_options());
  check_gradients_match(
      "concat axis 1 of 4-D (channels)",
      [](const std::vector<Tensor>& in) {
        return concat({in[0], in[1]}, 1);
      },
      {uniform_tensor({2, 3, 2, 2}, gen), uniform_tensor({2, 1, 2, 2}, gen)}, linear_options());
  check_gradients_match(
      "concat of one tensor used twice",
      [](const std::vector<Tensor>& in) {
        return concat({in[0], in[0]}, 0);
      },
      {uniform_tensor({2, 3}, gen)}, linear_options());
}

TEST_CASE("gradcheck: stack") {
  Generator gen(86);
  for (int64_t axis : {0, 1, 2, -1, -3}) {
    check_gradients_match(
        "stack axis " + std::to_string(axis),
        [axis](const std::vector<Tensor>& in) {
          return stack({in[0], in[1], in[2]}, axis);
        },
        {uniform_tensor({2, 3}, gen), uniform_tensor({2, 3}, gen), uniform_tensor({2, 3}, gen)},
        linear_options());
  }
  check_gradients_match(
      "stack of one tensor", [](const std::vector<Tensor>& in) { return stack({in[0]}, 0); },
      {uniform_tensor({1}, gen)}, linear_options());
}

TEST_CASE("gradcheck: pad") {
  Generator gen(87);
  struct Case {
    Shape x;
    std::vector<int64_t> pads;
    float value;
  };
  const std::vector<Case> cases = {{{2, 3, 4}, {1, 2}, 0.f},
                                   {{2, 3, 4}, {0, 1, 2, 0}, 0.f},
                                   {{1, 1, 3, 3}, {1, 1, 1, 1}, -0.5f},
                                   {{2, 5}, {3, 0}, 2.f},
                                   {{2, 3, 4}, {1, 0, 0, 1, 2, 1}, 0.f}};
  for (const Case& c : cases) {
    std::string pads;
    for (int64_t p : c.pads) pads += std::to_string(p) + " ";
    const auto p = c.pads;
    const float v = c.value;
    check_gradients_match(
        "pad " + shape_to_string(c.x) + " by " + pads + "value " + std::to_string(v),
        [p, v](const std::vector<Tensor>& in) { return pad(in[0], p, v); },
        {uniform_tensor(c.x, gen)}, linear_options());
  }
}

TEST_SUITE_END();
