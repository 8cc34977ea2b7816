#include "nn/models.h"

#include <sys/stat.h>

#include <cmath>
#include <set>
#include <stdexcept>

#include "nn/layers.h"
#include "tensor/ops.h"

namespace radgal::nn {

namespace {

const std::vector<std::string> kArchs = {"agcnn", "cnn", "classic"};
const std::vector<std::string> kNorms = {"sigmoid", "softmax", "range_norm", "std_mean_norm",
                                         "tanh"};
const std::vector<std::string> kAggregations = {"concat", "mean", "deep_sup", "ft"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : "|") + s;
  return out;
}

void check_choice(const char* key, const std::string& value,
                  const std::vector<std::string>& allowed) {
  for (const auto& a : allowed) {
    if (value == a) return;
  }
  throw std::invalid_argument(std::string("model config: ") + key + " '" + value +
                              "' is not one of " + join(allowed));
}

}  // namespace

// ---- ModelConfig -------------------------------------------------------------------------------

nlohmann::json ModelConfig::to_json() const {
  return {{"arch", arch},   {"norm", norm},       {"aggregation", aggregation},
          {"gates", gates}, {"dropout", dropout}, {"image_size", image_size}};
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("model config: expected a JSON object");
  ModelConfig c;
  try {
    if (j.contains("arch")) c.arch = j.at("arch").get<std::string>();
    if (j.contains("norm")) c.norm = j.at("norm").get<std::string>();
    if (j.contains("aggregation")) c.aggregation = j.at("aggregation").get<std::string>();
    if (j.contains("gates")) c.gates = j.at("gates").get<int>();
    if (j.contains("dropout")) c.dropout = j.at("dropout").get<float>();
    if (j.contains("image_size")) c.image_size = j.at("image_size").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("model config: a value has the wrong type (") +
                                e.what() + ")");
  }
  c.validate();
  return c;
}

void ModelConfig::validate() const {
  check_choice("arch", arch, kArchs);
  check_choice("norm", norm, kNorms);
  check_choice("aggregation", aggregation, kAggregations);
  if (gates < 0 || gates > 3) {
    throw std::invalid_argument("model config: gates must be 0..3, got " + std::to_string(gates));
  }
  if (!(dropout >= 0.f && dropout < 1.f)) {
    throw std::invalid_argument("model config: dropout must be in [0, 1), got " +
                                std::to_string(dropout));
  }
  // 16 is the trunk's total pooling factor; the classic net needs at least one pixel after its
  // four unpadded conv + pool steps.
  const int min_size = arch == "classic" ? 60 : 16;
  if (image_size < min_size) {
    throw std::invalid_argument("model config: image_size " + std::to_string(image_size) +
                                " is below the " + arch + " minimum of " +
                                std::to_string(min_size));
  }
}

std::string ModelConfig::describe() const {
  if (arch == "agcnn" && gates > 0) {
    return "agcnn (" + norm + ", " + aggregation + ", " + std::to_string(gates) +
           (gates == 1 ? " gate)" : " gates)");
  }
  if (arch == "agcnn") return "agcnn (no gates)";
  return arch;
}

// ---- attention ---------------------------------------------------------------------------------

Tensor normalise_attention(const Tensor& psi, const std::string& norm, NormScope scope) {
  if (psi.dim() != 4 || psi.size(1) != 1) {
    throw ShapeError("normalise_attention: psi must be (n, 1, H, W), got " +
                     shape_to_string(psi.shape()));
  }
  if (norm == "sigmoid") return sigmoid(psi);
  if (norm == "tanh") return tanh(psi);
  if (norm == "softmax") {
    const int64_t n = psi.size(0), h = psi.size(2), w = psi.size(3);
    return softmax(psi.reshape({n, h * w}), 1).reshape({n, 1, h, w});
  }
  if (norm == "range_norm" || norm == "std_mean_norm") {
    const std::vector<int64_t> axes =
        scope == NormScope::per_image ? std::vector<int64_t>{1, 2, 3} : std::vector<int64_t>{};
    const Tensor lo = min(psi, axes, /*keepdim=*/true);
    const Tensor hi = max(psi, axes, /*keepdim=*/true);
    if (norm == "std_mean_norm") return ((psi - lo) / hi - 0.5f) / 0.25f;
    // The tiny addend turns 0 / 0 for a constant map into 0 and is below float resolution for
    // any real range, so results equal the published formula.
    return (psi - lo) / ((hi - lo) + 1e-20f);
  }
  throw std::invalid_argument("normalise_attention: unknown normalisation '" + norm + "'");
}

namespace {

// A grid attention gate (Oktay et al.'s block as used by AGRadGalNet): see models.h.
class AttentionGate : public Module {
 public:
  AttentionGate(int64_t x_channels, int64_t g_channels, int64_t inter_channels, Generator& init) {
    theta =
        register_module("theta", std::make_shared<Conv2d>(x_channels, inter_channels, 1, init, 1, 0,
                                                          /*with_bias=*/false));
    phi = register_module("phi", std::make_shared<Conv2d>(g_channels, inter_channels, 1, init, 1, 0,
                                                          /*with_bias=*/false));
    psi = register_module("psi", std::make_shared<Conv2d>(inter_channels, 1, 1, init));
    psi->bias.fill_(10.f);
  }

  // x (n, C, H, W), g (n, Cg, Hg, Wg) -> {gate vector (n, C), alpha (n, 1, H, W)}.
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& g, const std::string& norm,
                                    NormScope scope) const {
    // psi(relu(theta(x) + upsample(phi(g)))) in one fused operator (tensor/ops.h).
    const Tensor scores =
        attention_gate_scores(x, theta->weight, phi->forward(g), psi->weight, psi->bias);
    const Tensor alpha = normalise_attention(scores, norm, scope);
    return {sum(alpha * x, {2, 3}), alpha};
  }

  std::shared_ptr<Conv2d> theta, phi, psi;
};

// conv -> batch norm -> ReLU, the unit every AG-CNN stage is made of.
struct ConvBlock {
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
  Tensor forward(const Tensor& x) const { return relu(bn->forward(conv->forward(x))); }
};

int64_t pooled(int64_t size, int times) {
  for (int i = 0; i < times; ++i) size /= 2;
  return size;
}

void check_input(const Tensor& x, const ModelConfig& c) {
  if (x.dim() != 4 || x.size(1) != 1 || x.size(2) != c.image_size || x.size(3) != c.image_size) {
    throw ShapeError(c.arch + ": expected input (n, 1, " + std::to_string(c.image_size) + ", " +
                     std::to_string(c.image_size) + "), got " + shape_to_string(x.shape()));
  }
}

}  // namespace

// ---- AG-CNN ------------------------------------------------------------------------------------

struct AttentionGatedCNN::Impl {
  std::vector<ConvBlock> stage1, stage2, stage3, stage4;
  std::shared_ptr<MaxPool2d> pool;
  std::vector<std::shared_ptr<AttentionGate>> gates;  // attention1 .. attentionG
  std::vector<std::shared_ptr<Dropout>> dropouts;     // one per gate, only with 3 gates
  std::shared_ptr<ModuleList<Linear>> classifiers;    // mean, deep_sup, ft
  std::shared_ptr<Linear> classifier;                 // concat, deep_sup, ft, and no gates
};

AttentionGatedCNN::AttentionGatedCNN(const ModelConfig& config, Generator& init)
    : config_(config), impl_(std::make_shared<Impl>()) {
  config_.validate();
  if (config_.arch == "cnn") config_.gates = 0;
  Impl& m = *impl_;

  // The trunk. Registration order: all convs, then all batch norms, as AGRadGalNet declares them
  // (this fixes the order of initialisation draws and of saved tensors).
  const std::vector<std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>>> stages = {
      {{"1a", {1, 6}}, {"1b", {6, 6}}, {"1c", {6, 6}}},
      {{"2a", {6, 16}}, {"2b", {16, 16}}, {"2c", {16, 16}}},
      {{"3a", {16, 32}}, {"3b", {32, 32}}, {"3c", {32, 32}}},
      {{"4a", {32, 64}}, {"4b", {64, 64}}}};
  std::vector<ConvBlock>* blocks[] = {&m.stage1, &m.stage2, &m.stage3, &m.stage4};
  for (size_t s = 0; s < stages.size(); ++s) {
    for (const auto& [suffix, channels] : stages[s]) {
      ConvBlock b;
      b.conv =
          register_module("conv" + suffix,
                          std::make_shared<Conv2d>(channels.first, channels.second, 3, init, 1, 1));
      blocks[s]->push_back(b);
    }
  }
  for (size_t s = 0; s < stages.size(); ++s) {
    for (size_t i = 0; i < stages[s].size(); ++i) {
      const auto& [suffix, channels] = stages[s][i];
      (*blocks[s])[i].bn =
          register_module("bnorm" + suffix, std::make_shared<BatchNorm2d>(channels.second, init));
    }
  }
  m.pool = std::make_shared<MaxPool2d>(2, 2);

  // Gates k = 1..G take x from conv3c (32 ch), conv2c (16), conv1c (6), all gated by conv4b.
  const int64_t gate_channels[] = {32, 16, 6};
  const int g = config_.gates;
  for (int k = 0; k < g; ++k) {
    m.gates.push_back(
        register_module("attention" + std::to_string(k + 1),
                        std::make_shared<AttentionGate>(gate_channels[k], 64, 64, init)));
  }
  if (g == 3) {
    for (int k = 0; k < g; ++k) {
      m.dropouts.push_back(std::make_shared<Dropout>(config_.dropout, dropout_rng_));
      register_module("dropout" + std::to_string(k + 1), m.dropouts.back());
    }
  }

  // Heads.
  const std::string& agg = config_.aggregation;
  if (g == 0) {
    const int64_t side = pooled(config_.image_size, 4);
    m.classifier =
        register_module("classifier", std::make_shared<Linear>(64 * side * side, 2, init));
  } else {
    int64_t concat_width = 0;
    for (int k = 0; k < g; ++k) concat_width += gate_channels[k];
    if (agg != "concat") {
      m.classifiers = register_module("classifiers", std::make_shared<ModuleList<Linear>>());
      for (int k = 0; k < g; ++k)
        m.classifiers->push_back(std::make_shared<Linear>(gate_channels[k], 2, init));
    }
    if (agg == "concat" || agg == "deep_sup") {
      m.classifier = register_module("classifier", std::make_shared<Linear>(concat_width, 2, init));
    } else if (agg == "ft") {
      m.classifier = register_module("classifier", std::make_shared<Linear>(2 * g, 2, init));
    }
  }
  dropout_rng_ = Generator(init.next_u64());
}

ClassifierOutput AttentionGatedCNN::forward(const Tensor& x) {
  check_input(x, config_);
  const Impl& m = *impl_;
  auto run = [](const std::vector<ConvBlock>& stage, Tensor t) {
    for (const ConvBlock& b : stage) t = b.forward(t);
    return t;
  };
  const Tensor c1 = run(m.stage1, x);                    // (n, 6, S, S)
  const Tensor c2 = run(m.stage2, m.pool->forward(c1));  // (n, 16, S/2, S/2)
  const Tensor c3 = run(m.stage3, m.pool->forward(c2));  // (n, 32, S/4, S/4)
  const Tensor c4 = run(m.stage4, m.pool->forward(c3));  // (n, 64, S/8, S/8): gating signal

  ClassifierOutput out;
  const int g = config_.gates;
  if (g == 0) {
    out.logits = m.classifier->forward(flatten(m.pool->forward(c4), 1));
    return out;
  }

  const NormScope scope = is_training() ? train_scope_ : eval_scope_;
  const Tensor* gate_inputs[] = {&c3, &c2, &c1};
  std::vector<Tensor> vectors;
  for (int k = 0; k < g; ++k) {
    auto [vec, alpha] = m.gates[k]->forward(*gate_inputs[k], c4, config_.norm, scope);
    if (!m.dropouts.empty()) vec = m.dropouts[k]->forward(vec);
    vectors.push_back(vec);
    out.attention.push_back(alpha);
  }

  const std::string& agg = config_.aggregation;
  if (agg == "concat") {
    out.logits = m.classifier->forward(concat(vectors, 1));
  } else if (agg == "mean" || agg == "deep_sup") {
    Tensor total = agg == "deep_sup" ? m.classifier->forward(concat(vectors, 1)) : Tensor();
    for (int k = 0; k < g; ++k) {
      const Tensor z = (*m.classifiers)[k].forward(vectors[k]);
      total = total.defined() ? total + z : z;
    }
    out.logits = total * (1.f / static_cast<float>(agg == "deep_sup" ? g + 1 : g));
  } else {  // ft
    std::vector<Tensor> per_gate;
    for (int k = 0; k < g; ++k) per_gate.push_back(relu((*m.classifiers)[k].forward(vectors[k])));
    out.logits = m.classifier->forward(concat(per_gate, 1));
  }
  return out;
}

// ---- classic CNN -------------------------------------------------------------------------------

namespace {

class ClassicCNN : public Classifier {
 public:
  ClassicCNN(const ModelConfig& config, Generator& init) : config_(config) {
    config_.validate();
    conv_.push_back(register_module("conv1", std::make_shared<Conv2d>(1, 6, 5, init)));
    conv_.push_back(register_module("conv2", std::make_shared<Conv2d>(6, 16, 5, init)));
    conv_.push_back(register_module("conv3", std::make_shared<Conv2d>(16, 32, 5, init)));
    conv_.push_back(register_module("conv4", std::make_shared<Conv2d>(32, 64, 3, init)));
    int64_t side = config_.image_size;
    for (int64_t k : {5, 5, 5, 3}) side = (side - k + 1) / 2;
    fc1_ = register_module("fc1", std::make_shared<Linear>(64 * side * side, 64, init));
    fc2_ = register_module("fc2", std::make_shared<Linear>(64, 2, init));
    dropout_rng_ = Generator(init.next_u64());
    dropout_ = register_module("dropout", std::make_shared<Dropout>(config_.dropout, dropout_rng_));
  }

  ClassifierOutput forward(const Tensor& x) override {
    check_input(x, config_);
    Tensor t = x;
    for (const auto& conv : conv_) t = pool_.forward(relu(conv->forward(t)));
    t = dropout_->forward(relu(fc1_->forward(flatten(t, 1))));
    ClassifierOutput out;
    out.logits = fc2_->forward(t);
    return out;
  }

  ModelConfig config() const override { return config_; }

 private:
  ModelConfig config_;
  std::vector<std::shared_ptr<Conv2d>> conv_;
  std::shared_ptr<Linear> fc1_, fc2_;
  std::shared_ptr<Dropout> dropout_;
  MaxPool2d pool_{2, 2};
};

}  // namespace

std::shared_ptr<Classifier> make_model(const ModelConfig& config, Generator& init_rng) {
  config.validate();
  if (config.arch == "classic") return std::make_shared<ClassicCNN>(config, init_rng);
  return std::make_shared<AttentionGatedCNN>(config, init_rng);
}

ModelConfig published_config(const std::map<std::string, std::string>& metadata) {
  ModelConfig c;
  auto get = [&](const char* key, const std::string& fallback) {
    auto it = metadata.find(key);
    return it == metadata.end() ? fallback : it->second;
  };
  c.norm = get("normalisation", c.norm);
  c.aggregation = get("aggregation", c.aggregation);
  const std::string gates = get("gates", std::to_string(c.gates));
  if (gates.size() != 1 || gates[0] < '0' || gates[0] > '3') {
    throw std::invalid_argument("published model metadata: gates '" + gates + "' is not 0..3");
  }
  c.gates = gates[0] - '0';
  c.validate();
  return c;
}

// ---- state -------------------------------------------------------------------------------------

NamedTensors state_of(const Module& module) {
  NoGradGuard no_grad;
  NamedTensors out;
  for (const auto& [name, t] : module.named_tensors()) out.add(name, t.detach().clone());
  return out;
}

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

void load_state(Module& module, const NamedTensors& tensors, const std::string& source_path) {
  const auto* classifier = dynamic_cast<const Classifier*>(&module);
  const std::string model_name =
      classifier ? "the " + classifier->config().describe() + " model" : "the model";
  const bool published_agcnn = classifier && classifier->config().arch == "agcnn";

  std::vector<std::pair<std::string, Tensor>> targets = module.named_tensors();

  // Check everything before copying anything, so a bad file leaves the module untouched.
  std::set<std::string> expected;
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  for (auto& [name, target] : targets) {
    expected.insert(name);
    const Tensor* source = tensors.find(name);
    const bool optional = is_batch_counter(name);
    if (!source) {
      if (optional) continue;
      throw std::runtime_error(source_path + ": tensor " + name + " is missing; " + model_name +
                               " expects it with shape " + shape_to_string(target.shape()) +
                               " (is the file a model of another architecture?)");
    }
    const bool shape_ok = optional ? source->numel() == 1 : source->shape() == target.shape();
    if (!shape_ok) {
      throw std::runtime_error(source_path + ": tensor " + name + " has shape " +
                               shape_to_string(source->shape()) + ", " + model_name + " expects " +
                               shape_to_string(target.shape()));
    }
    // A NaN or infinite weight makes every prediction NaN (read as a confident class downstream),
    // so such a file is refused here rather than producing quiet nonsense.
    size_t non_finite = 0;
    const float* values = source->data();
    for (int64_t i = 0; i < source->numel(); ++i) non_finite += !std::isfinite(values[i]);
    if (non_finite > 0) {
      throw std::runtime_error(source_path + ": tensor " + name + " holds " +
                               std::to_string(non_finite) + " non-finite value" +
                               (non_finite == 1 ? "" : "s") + " (NaN or infinity)");
    }
    copies.emplace_back(target, source);
  }
  for (const auto& [name, t] : tensors.tensors) {
    if (expected.count(name)) continue;
    // AGRadGalNet builds fc1/fc2/fc3 but never uses them; published state dicts still hold them.
    if (published_agcnn &&
        (starts_with(name, "fc1.") || starts_with(name, "fc2.") || starts_with(name, "fc3."))) {
      continue;
    }
    throw std::runtime_error(source_path + ": tensor " + name + " " + shape_to_string(t.shape()) +
                             " is not part of " + model_name +
                             " (is the file a model of another architecture?)");
  }

  NoGradGuard no_grad;
  for (auto& [target, source] : copies) {
    if (target.numel() == 1 && source->shape() != target.shape()) {
      target.fill_(source->to_vector()[0]);
    } else {
      target.copy_(*source);
    }
  }
}

LoadedModel load_model(const std::string& file_or_run_dir) {
  LoadedModel out;
  struct stat st {};
  if (::stat(file_or_run_dir.c_str(), &st) != 0) {
    throw std::runtime_error(file_or_run_dir + ": no such file or directory");
  }
  out.path = S_ISDIR(st.st_mode) ? file_or_run_dir + "/model.safetensors" : file_or_run_dir;
  if (S_ISDIR(st.st_mode) && ::stat(out.path.c_str(), &st) != 0) {
    throw std::runtime_error(file_or_run_dir +
                             ": not a run directory (it has no model.safetensors)");
  }

  NamedTensors file = read_safetensors(out.path);
  out.metadata = file.metadata;
  const auto config_it = file.metadata.find("radgal.config");
  if (config_it == file.metadata.end()) {
    out.published = true;
    try {
      out.config = published_config(file.metadata);
    } catch (const std::exception& e) {
      throw std::runtime_error(out.path + ": " + e.what());
    }
  } else {
    const auto format = file.metadata.find("radgal.format");
    if (format != file.metadata.end() && format->second != "radgal-model-1") {
      throw std::runtime_error(out.path + ": unsupported radgal.format '" + format->second +
                               "' (this radgal reads radgal-model-1)");
    }
    try {
      out.config = ModelConfig::from_json(nlohmann::json::parse(config_it->second));
    } catch (const std::exception& e) {
      throw std::runtime_error(out.path + ": bad radgal.config metadata: " + e.what());
    }
  }

  Generator init(0);
  out.model = make_model(out.config, init);
  load_state(*out.model, file, out.path);
  out.model->eval();
  return out;
}

void save_model(const std::string& path, const Classifier& model,
                const std::map<std::string, std::string>& extra_metadata) {
  save_model_state(path, model.config(), state_of(model), extra_metadata);
}

void save_model_state(const std::string& path, const ModelConfig& config, NamedTensors state,
                      const std::map<std::string, std::string>& extra_metadata) {
  state.metadata = extra_metadata;
  state.metadata["radgal.format"] = "radgal-model-1";
  state.metadata["radgal.config"] = config.to_json().dump();
  write_safetensors(path, state);
}

}  // namespace radgal::nn
