// Optimisers: trajectories against torch.optim (tests/fixtures/make_optim_fixtures.py), exact
// resume from exported state, weight-decay semantics, and argument checking.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
#include "train/optim.h"

using namespace radgal;
using nlohmann::json;

namespace {

json read_trajectories() {
  const std::string path = std::string(RADGAL_FIXTURES_DIR) + "/optim/trajectories.json";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "missing " << path);
  const json j = json::parse(in);
  REQUIRE(j.at("format") == "radgal-optim-fixture-1");
  return j;
}

Tensor leaf(const std::vector<float>& values, const Shape& shape) {
  Tensor t = Tensor::from_vector(values, shape);
  t.set_requires_grad(true);
  return t;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, const json& h,
                                          std::vector<Tensor> params, double lr) {
  if (kind == "sgd") {
    return std::make_unique<SGD>(std::move(params), lr, h.at("momentum").get<double>(),
                                 h.at("nesterov").get<bool>(), h.at("weight_decay").get<double>());
  }
  const double b1 = h.at("beta1"), b2 = h.at("beta2"), eps = h.at("eps"), wd = h.at("weight_decay");
  if (kind == "adam") return std::make_unique<Adam>(std::move(params), lr, b1, b2, eps, wd);
  if (kind == "adamw") return std::make_unique<AdamW>(std::move(params), lr, b1, b2, eps, wd);
  FAIL("unknown optimiser kind " << kind);
  return nullptr;
}

// Sets grad_j = a_j * (p_j - c_j) elementwise in float32, exactly as the fixture script does.
void set_quadratic_gradient(Tensor& p, const std::vector<float>& a, const std::vector<float>& c) {
  const std::vector<float> v = p.to_vector();
  std::vector<float> g(v.size());
  for (size_t k = 0; k < v.size(); ++k) g[k] = a[k] * (v[k] - c[k]);
  p.set_grad(Tensor::from_vector(g, p.shape()));
}

// |ours - torch| <= atol + rtol |torch| for every element; reports the first mismatch.
void check_close(const std::string& what, const std::vector<float>& ours,
                 const std::vector<float>& ref, double atol, double rtol) {
  INFO(what);
  REQUIRE(ours.size() == ref.size());
  for (size_t k = 0; k < ref.size(); ++k) {
    const double err = std::fabs(static_cast<double>(ours[k]) - ref[k]);
    if (!(err <= atol + rtol * std::fabs(ref[k]))) {
      FAIL_CHECK("element " << k << ": ours " << ours[k] << ", torch " << ref[k]);
      return;
    }
  }
}

// A small fixed problem for the resume and semantics tests: three parameters, gradients from a
// quadratic, the third parameter without a gradient on odd steps.
struct Problem {
  std::vector<Tensor> params;
  std::vector<std::vector<float>> a, c;

  explicit Problem(uint64_t seed) {
    Generator gen(seed);
    for (const Shape& s : std::vector<Shape>{{4}, {2, 3}, {5}}) {
      params.push_back(Tensor::randn(s, gen));
      params.back().set_requires_grad(true);
      a.push_back(Tensor::uniform(s, gen, 0.5f, 2.f).to_vector());
      c.push_back(Tensor::randn(s, gen).to_vector());
    }
  }
  Problem(const Problem& other) : a(other.a), c(other.c) {  // deep copy of the values
    for (const Tensor& p : other.params) {
      params.push_back(Tensor::from_vector(p.to_vector(), p.shape()));
      params.back().set_requires_grad(true);
    }
  }
  void set_gradients(int64_t step) {
    for (size_t j = 0; j < params.size(); ++j) {
      params[j].zero_grad();
      if (j == 2 && step % 2 == 1) continue;
      set_quadratic_gradient(params[j], a[j], c[j]);
    }
  }
  std::vector<std::vector<float>> values() const {
    std::vector<std::vector<float>> v;
    for (const Tensor& p : params) v.push_back(p.to_vector());
    return v;
  }
};

using OptimizerFactory = std::unique_ptr<Optimizer> (*)(std::vector<Tensor>);

const std::vector<std::pair<std::string, OptimizerFactory>> kFactories = {
    {"sgd momentum",
     [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
       return std::make_unique<SGD>(std::move(p), 0.05, 0.9, false, 1e-3);
     }},
    {"sgd nesterov",
     [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
       return std::make_unique<SGD>(std::move(p), 0.05, 0.9, true, 1e-3);
     }},
    {"adam",
     [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
       return std::make_unique<Adam>(std::move(p), 0.01, 0.9, 0.999, 1e-8, 1e-2);
     }},
    {"adamw", [](std::vector<Tensor> p) -> std::unique_ptr<Optimizer> {
       return std::make_unique<AdamW>(std::move(p), 0.01, 0.9, 0.999, 1e-8, 1e-2);
     }}};

}  // namespace

TEST_SUITE_BEGIN("optim");

TEST_CASE("optimisers follow torch.optim trajectories") {
  const json fixture = read_trajectories();
  int cases = 0;
  for (const json& c : fixture.at("cases")) {
    ++cases;
    const std::string name = c.at("name");
    SUBCASE(name.c_str()) {
      const std::string kind = c.at("optimizer");
      const bool quadratic = c.at("problem") == "quadratic";
      std::vector<Tensor> params;
      for (size_t j = 0; j < c.at("shapes").size(); ++j) {
        params.push_back(
            leaf(c.at("init")[j].get<std::vector<float>>(), c.at("shapes")[j].get<Shape>()));
      }
      const std::vector<double> lrs = c.at("lrs");
      auto opt = make_optimizer(kind, c.at("hyper"), params, lrs[0]);

      Tensor x, y;
      if (!quadratic) {
        x = Tensor::from_vector(c.at("x").get<std::vector<float>>(), {8, 3});
        y = Tensor::from_vector(c.at("y").get<std::vector<float>>(), {8, 1});
      }
      // The quadratic gradients are bit-identical to PyTorch's, so only the optimiser's float
      // rounding (a few ulp per step, 12 steps) separates the trajectories. The regression's
      // gradients come through each library's own matmul and mean: 1e-6 relative more.
      const double atol = quadratic ? 2e-6 : 1e-5, rtol = quadratic ? 1e-5 : 1e-4;
      for (size_t s = 0; s < lrs.size(); ++s) {
        opt->set_lr(lrs[s]);
        if (quadratic) {
          for (size_t j = 0; j < 2; ++j) {
            set_quadratic_gradient(params[j], c.at("a")[j].get<std::vector<float>>(),
                                   c.at("c")[j].get<std::vector<float>>());
          }
        } else {
          opt->zero_grad();
          const Tensor residual = sub(add(matmul(x, params[0]), params[1]), y);
          mean(mul(residual, residual)).backward();
        }
        opt->step();
        for (size_t j = 0; j < params.size(); ++j) {
          check_close(name + " step " + std::to_string(s + 1) + " param " + std::to_string(j),
                      params[j].to_vector(), c.at("trajectory")[s][j].get<std::vector<float>>(),
                      atol, rtol);
        }
      }
      CHECK(opt->step_count() == static_cast<int64_t>(lrs.size()));

      // The final state against PyTorch's, buffer by buffer.
      const NamedTensorList state = opt->state_tensors();
      auto find = [&](const std::string& key) -> Tensor {
        for (const auto& [k, t] : state) {
          if (k == key) return t;
        }
        return Tensor();
      };
      for (size_t j = 0; j < params.size(); ++j) {
        const json& ref = c.at("final_state")[j];
        const std::string prefix = "optim." + std::to_string(j) + ".";
        if (!ref.at("step").is_null()) {
          CHECK(find(prefix + "step").item() == ref.at("step").get<float>());
        }
        for (const char* buffer : {"momentum_buffer", "exp_avg", "exp_avg_sq"}) {
          if (!ref.contains(buffer)) continue;
          const Tensor t = find(prefix + buffer);
          REQUIRE_MESSAGE(t.defined(), "no state tensor " << prefix << buffer);
          check_close(name + " final " + prefix + buffer, t.to_vector(),
                      ref.at(buffer).get<std::vector<float>>(), atol, 10 * rtol);
        }
      }
    }
  }
  CHECK(cases == 9);
}

TEST_CASE("a parameter without a gradient is not touched, not even by weight decay") {
  for (const auto& [name, factory] : kFactories) {
    INFO(name);
    Problem problem(1);
    const std::vector<float> frozen = problem.params[2].to_vector();
    auto opt = factory(problem.params);
    for (int64_t s = 0; s < 3; ++s) {
      for (size_t j = 0; j < 2; ++j) {
        set_quadratic_gradient(problem.params[j], problem.a[j], problem.c[j]);
      }
      opt->step();
    }
    CHECK(problem.params[2].to_vector() == frozen);
    CHECK(opt->step_count() == 3);
    for (const auto& [key, t] : opt->state_tensors()) {
      if (key == "optim.2.step") CHECK(t.item() == 0.f);
      if (key == "optim.0.step") CHECK(t.item() == 3.f);
    }
  }
}

TEST_CASE("zero_grad drops every gradient") {
  Problem problem(2);
  SGD opt(problem.params, 0.1);
  problem.set_gradients(0);
  REQUIRE(problem.params[0].grad().defined());
  opt.zero_grad();
  for (const Tensor& p : problem.params) CHECK_FALSE(p.grad().defined());
  // With no gradients a step changes nothing.
  const auto before = problem.values();
  opt.step();
  CHECK(problem.values() == before);
}

TEST_CASE("the exported state resumes a run bit for bit") {
  constexpr int64_t kSteps = 10, kSplit = 4;
  for (const auto& [name, factory] : kFactories) {
    INFO(name);
    const Problem start(3);

    // Uninterrupted run.
    Problem full(start);
    auto opt_full = factory(full.params);
    for (int64_t s = 0; s < kSteps; ++s) {
      opt_full->set_lr(0.01 * (1.0 + 0.1 * s));
      full.set_gradients(s);
      opt_full->step();
    }

    // Interrupted run: save parameters and state, rebuild everything, load, continue.
    Problem first(start);
    auto opt_first = factory(first.params);
    for (int64_t s = 0; s < kSplit; ++s) {
      opt_first->set_lr(0.01 * (1.0 + 0.1 * s));
      first.set_gradients(s);
      opt_first->step();
    }
    const NamedTensorList saved = opt_first->state_tensors();
    Problem resumed(first);  // fresh tensors holding the saved parameter values
    auto opt_resumed = factory(resumed.params);
    opt_resumed->load_state_tensors(saved);
    CHECK(opt_resumed->step_count() == kSplit);
    for (int64_t s = kSplit; s < kSteps; ++s) {
      opt_resumed->set_lr(0.01 * (1.0 + 0.1 * s));
      resumed.set_gradients(s);
      opt_resumed->step();
    }

    CHECK(resumed.values() == full.values());
    const NamedTensorList a = opt_resumed->state_tensors(), b = opt_full->state_tensors();
    REQUIRE(a.size() == b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      CHECK(a[k].first == b[k].first);
      CHECK(a[k].second.to_vector() == b[k].second.to_vector());
    }
  }
}

TEST_CASE("state_tensors is a snapshot and names every buffer") {
  Problem problem(4);
  Adam opt(problem.params, 0.01);
  problem.set_gradients(0);
  opt.step();
  const NamedTensorList state = opt.state_tensors();
  std::vector<std::string> names;
  for (const auto& [k, t] : state) names.push_back(k);
  CHECK(names == std::vector<std::string>{"optim.step", "optim.0.step", "optim.0.exp_avg",
                                          "optim.0.exp_avg_sq", "optim.1.step", "optim.1.exp_avg",
                                          "optim.1.exp_avg_sq", "optim.2.step", "optim.2.exp_avg",
                                          "optim.2.exp_avg_sq"});
  const std::vector<float> exp_avg = state[2].second.to_vector();
  problem.set_gradients(1);
  opt.step();
  CHECK(state[2].second.to_vector() == exp_avg);  // later steps do not write into the snapshot

  SGD plain(problem.params, 0.1);  // no momentum: no buffers, counts only
  CHECK(plain.state_tensors().size() == 4);
}

TEST_CASE("load_state_tensors rejects a state that does not fit, and changes nothing") {
  Problem problem(5);
  Adam opt(problem.params, 0.01);
  problem.set_gradients(0);
  opt.step();
  const NamedTensorList good = opt.state_tensors();

  auto without = [&](const std::string& key) {
    NamedTensorList s;
    for (const auto& e : good) {
      if (e.first != key) s.push_back(e);
    }
    return s;
  };
  NamedTensorList missing = without("optim.1.exp_avg_sq");
  NamedTensorList extra = good;
  extra.emplace_back("optim.3.exp_avg", Tensor::zeros({2}));
  NamedTensorList wrong_shape = without("optim.0.exp_avg");
  wrong_shape.emplace_back("optim.0.exp_avg", Tensor::zeros({5}));
  NamedTensorList bad_count = without("optim.step");
  bad_count.emplace_back("optim.step", Tensor::from_vector({1.5f}, {1}));

  Problem other(5);
  Adam target(other.params, 0.01);
  const NamedTensorList before = target.state_tensors();
  CHECK_THROWS_WITH_AS(target.load_state_tensors(missing), doctest::Contains("optim.1.exp_avg_sq"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(target.load_state_tensors(extra), doctest::Contains("optim.3.exp_avg"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(target.load_state_tensors(wrong_shape), doctest::Contains("shape"),
                       std::runtime_error);
  CHECK_THROWS_AS(target.load_state_tensors(bad_count), std::runtime_error);
  // SGD state into Adam: no exp_avg.
  SGD sgd(problem.params, 0.1, 0.9);
  CHECK_THROWS_AS(target.load_state_tensors(sgd.state_tensors()), std::runtime_error);

  const NamedTensorList after = target.state_tensors();
  REQUIRE(after.size() == before.size());
  for (size_t k = 0; k < after.size(); ++k) {
    CHECK(after[k].second.to_vector() == before[k].second.to_vector());
  }
  CHECK(target.step_count() == 0);
}

TEST_CASE("weight decay: Adam adds it to the gradient, AdamW decays the weights") {
  // With a zero gradient the two rules part ways completely. AdamW multiplies each weight by
  // (1 - lr wd) and the Adam part does nothing (m = v = 0). Adam's L2 term becomes the whole
  // gradient g = wd p, so its normalised first step moves each weight by lr, towards 0,
  // however small wd is.
  const double lr = 0.1, wd = 0.01;
  const std::vector<float> start = {2.f, -1.f, 0.5f};
  Tensor pw = leaf(start, {3}), pa = leaf(start, {3});
  AdamW adamw({pw}, lr, 0.9, 0.999, 1e-8, wd);
  Adam adam({pa}, lr, 0.9, 0.999, 1e-8, wd);
  pw.set_grad(Tensor::zeros({3}));
  pa.set_grad(Tensor::zeros({3}));
  adamw.step();
  adam.step();
  const std::vector<float> w = pw.to_vector(), a = pa.to_vector();
  for (size_t k = 0; k < start.size(); ++k) {
    CHECK(w[k] == static_cast<float>(start[k] * static_cast<float>(1.0 - lr * wd)));
    const float toward_zero = start[k] > 0 ? -1.f : 1.f;
    CHECK(a[k] == doctest::Approx(start[k] + toward_zero * lr).epsilon(1e-5));
  }

  // SGD's weight decay is L2 too: with a zero gradient, p <- p - lr wd p.
  Tensor ps = leaf(start, {3});
  SGD sgd({ps}, lr, 0.0, false, wd);
  ps.set_grad(Tensor::zeros({3}));
  sgd.step();
  for (size_t k = 0; k < start.size(); ++k) {
    CHECK(ps.to_vector()[k] == doctest::Approx(start[k] * (1.0 - lr * wd)).epsilon(1e-6));
  }
}

TEST_CASE("Adam's first step has size lr whatever the gradient's scale") {
  // Bias correction: after one step m / sqrt(v) = g / |g|, so the update is lr * sign(g) (eps
  // aside). Without the correction it would be (1 - b1) / sqrt(1 - b2) = 3.16 times that.
  for (float scale : {1e-3f, 1.f, 1e3f}) {
    Tensor p = leaf({1.f, 1.f}, {2});
    Adam opt({p}, 0.01);
    p.set_grad(Tensor::from_vector({scale, -scale}, {2}));
    opt.step();
    CHECK(p.to_vector()[0] == doctest::Approx(0.99).epsilon(1e-5));
    CHECK(p.to_vector()[1] == doctest::Approx(1.01).epsilon(1e-5));
  }
}

TEST_CASE("SGD with momentum by hand") {
  // b1 = g1; p1 = p0 - lr b1. b2 = m b1 + g2; p2 = p1 - lr b2. Nesterov: p -= lr (g + m b).
  for (bool nesterov : {false, true}) {
    Tensor p = leaf({1.f}, {1});
    SGD opt({p}, 0.5, 0.5, nesterov);
    p.set_grad(Tensor::from_vector({2.f}, {1}));
    opt.step();
    p.set_grad(Tensor::from_vector({4.f}, {1}));
    opt.step();
    // Plain: b1 = 2, p1 = 0; b2 = 5, p2 = -2.5. Nesterov: d1 = 2 + 1 = 3, p1 = -0.5;
    // b2 = 5, d2 = 4 + 2.5 = 6.5, p2 = -3.75.
    CHECK(p.item() == (nesterov ? -3.75f : -2.5f));
  }
}

TEST_CASE("set_lr takes effect at the next step") {
  Tensor p = leaf({1.f}, {1});
  SGD opt({p}, 0.5);
  CHECK(opt.lr() == 0.5);
  p.set_grad(Tensor::from_vector({1.f}, {1}));
  opt.step();
  CHECK(p.item() == 0.5f);
  opt.set_lr(0.25);
  CHECK(opt.lr() == 0.25);
  opt.step();
  CHECK(p.item() == 0.25f);
  CHECK_THROWS_AS(opt.set_lr(-1.0), std::invalid_argument);
  CHECK_THROWS_AS(opt.set_lr(std::nan("")), std::invalid_argument);
}

TEST_CASE("optimiser arguments are checked") {
  Tensor p = leaf({1.f, 2.f}, {2});
  CHECK_THROWS_AS(SGD({p}, 0.1, 0.0, true), std::invalid_argument);  // Nesterov needs momentum
  CHECK_THROWS_AS(SGD({p}, -0.1), std::invalid_argument);
  CHECK_THROWS_AS(SGD({p, p}, 0.1), std::invalid_argument);  // the same tensor twice
  CHECK_THROWS_AS(Adam({p}, 0.1, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(Adam({p}, 0.1, 0.9, -0.1), std::invalid_argument);
  CHECK_THROWS_AS(AdamW({p}, 0.1, 0.9, 0.999, 1e-8, -1.0), std::invalid_argument);
  CHECK_THROWS_AS(SGD({Tensor()}, 0.1), std::invalid_argument);
  const Tensor non_leaf = mul(p, 2.f);
  CHECK_THROWS_AS(SGD({non_leaf}, 0.1), std::invalid_argument);
  const Tensor strided = Tensor::zeros({3, 4}).transpose(0, 1);
  CHECK_THROWS_AS(SGD({strided}, 0.1), std::invalid_argument);
  CHECK(Adam({p}).name() == "adam");
  CHECK(AdamW({p}).name() == "adamw");
  CHECK(SGD({p}, 0.1).name() == "sgd");
}

TEST_CASE("a gradient of the wrong shape is reported") {
  Tensor p = leaf({1.f, 2.f}, {2});
  SGD opt({p}, 0.1);
  bool refused_by_set_grad = false;  // set_grad may refuse the shape itself; that is fine too
  try {
    p.set_grad(Tensor::zeros({3}));
  } catch (const std::exception&) {
    refused_by_set_grad = true;
  }
  if (!refused_by_set_grad) {
    CHECK_THROWS_WITH_AS(opt.step(), doctest::Contains("shape"), std::runtime_error);
  }
}

TEST_SUITE_END();
