// The FRI/FRII classifiers: the attention-gated CNN of Bowles et al. 2021 ("agcnn"), the same
// trunk without gates ("cnn"), and a small classic CNN ("classic"); plus loading and saving their
// weights by name.
//
// Every classifier takes x (n, 1, S, S) with S = config.image_size (150 for MiraBest), pixels
// scaled as pixel / 255 then (x - 0.5) / 0.5, and returns LOGITS z (n, 2): softmax(z) gives
// p(FRI), p(FRII) and equals the published network's output (which applied the softmax itself).
//
// The AG-CNN ("agcnn"), exactly as published (AGRadGalNet, conv -> batch norm -> ReLU variant):
//   stage 1  conv1a 1->6, conv1b 6->6, conv1c 6->6        at S       (conv1c: x of attention3)
//   mpool    2x2 floor                                     S/2
//   stage 2  conv2a 6->16, conv2b, conv2c 16->16           at S/2     (conv2c: x of attention2)
//   stage 3  conv3a 16->32, conv3b, conv3c 32->32          at S/4     (conv3c: x of attention1)
//   stage 4  conv4a 32->64, conv4b 64->64                  at S/8     (conv4b: the gating signal g)
// each conv 3x3 pad 1 with bias, followed by bnorm<k> and ReLU. An attention gate k computes
//   psi = psi_conv(ReLU(theta(x) + upsample_bilinear(phi(g), H, W, align_corners = false)))
//   alpha = normalise(psi) (n, 1, H, W);   gate vector = sum over (H, W) of alpha * x  (n, C_x)
// with theta 1x1 C_x->64 and phi 1x1 64->64 without bias, psi 1x1 64->1 with bias (init 10).
// Gates 1..G use conv3c, conv2c, conv1c in that order (G = config.gates, 0..3). With 3 gates each
// gate vector passes through dropout(config.dropout). Aggregation of the gate vectors g_k:
//   concat    classifier Linear(sum C_k -> 2) on cat(g_1..g_G)
//   mean      classifiers.k Linear(C_k -> 2); z = mean_k classifiers.k(g_k)
//   deep_sup  both of the above; z = mean of the G + 1 logit vectors
//   ft        classifiers.k, then classifier Linear(2G -> 2) on cat_k ReLU(classifiers.k(g_k))
// With G = 0 the head is classifier Linear(64 * (S/16)^2 -> 2) on flatten(mpool(conv4b)).
// Parameter counts for S = 150: ft 101,447; concat 101,429; mean 101,433; deep_sup 101,543;
// ft with 2 gates 96,884, 1 gate 91,661; no gates 95,750 (the published file also holds the unused
// fc1/fc2/fc3 tensors, which radgal does not build and ignores when loading).
//
// Attention normalisations (psi (n, 1, H, W) -> alpha):
//   sigmoid        1 / (1 + exp(-psi))
//   softmax        exp(psi) / sum over the image's H * W positions
//   range_norm     (psi - min) / (max - min)
//   std_mean_norm  ((psi - min) / max - 0.5) / 0.25   (the published formula, dividing by max)
//   tanh           tanh(psi)
// The published code takes min and max of range_norm and std_mean_norm over the WHOLE batch
// tensor, so an image's output depends on the other images in its batch. radgal does the same in
// training mode, but in evaluation mode it takes them per image (set_batch_norm_scope can change
// that), so a prediction is the one a batch of 1 gives whatever the batch composition; the
// published reference outputs were also made one image at a time.
//
// "cnn" is the AG-CNN trunk with the no-gate head (same as agcnn with gates = 0).
// "classic" is a small LeNet-style CNN without batch norm, for comparison:
//   conv1 5x5 1->6, ReLU, mpool 2 | conv2 5x5 6->16, ReLU, mpool 2 | conv3 5x5 16->32, ReLU,
//   mpool 2 | conv4 3x3 32->64, ReLU, mpool 2 | flatten | fc1 -> 64, ReLU, dropout | fc2 64 -> 2
// (all convs unpadded); at S = 150 that is 64 * 6 * 6 = 2304 features and 181,550 parameters.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/module.h"
#include "nn/safetensors.h"
#include "tensor/random.h"

namespace radgal::nn {

struct ModelConfig {
  std::string arch = "agcnn";       // agcnn | cnn | classic
  std::string norm = "range_norm";  // sigmoid | softmax | range_norm | std_mean_norm | tanh
  std::string aggregation = "ft";   // concat | mean | deep_sup | ft
  int gates = 3;                    // 0..3 (agcnn only)
  float dropout = 0.5f;             // agcnn with 3 gates: on the gate vectors; classic: after fc1
  int image_size = 150;

  nlohmann::json to_json() const;
  // Missing keys keep their defaults; unknown values throw std::invalid_argument naming the key.
  static ModelConfig from_json(const nlohmann::json& j);
  void validate() const;         // throws std::invalid_argument
  std::string describe() const;  // "agcnn (range_norm, ft, 3 gates)"
};

struct ClassifierOutput {
  Tensor logits;                  // (n, 2); softmax gives p(FRI), p(FRII)
  std::vector<Tensor> attention;  // per gate (n, 1, H, W): attention1 (S/4), 2 (S/2), 3 (S)
};

class Classifier : public Module {
 public:
  virtual ClassifierOutput forward(const Tensor& x) = 0;
  virtual ModelConfig config() const = 0;

  // The stream dropout masks are drawn from (seeded by make_model); checkpoints save its state.
  Generator& dropout_rng() { return dropout_rng_; }

 protected:
  Generator dropout_rng_;
};

// Which images the batch-global normalisations (range_norm, std_mean_norm) take min and max over.
enum class NormScope { batch, per_image };

// alpha from psi (n, 1, H, W); `norm` as in ModelConfig::norm. Throws on an unknown name.
Tensor normalise_attention(const Tensor& psi, const std::string& norm, NormScope scope);

// The AG-CNN (also "cnn", which is this class with no gates).
class AttentionGatedCNN : public Classifier {
 public:
  AttentionGatedCNN(const ModelConfig& config, Generator& init);
  ClassifierOutput forward(const Tensor& x) override;
  ModelConfig config() const override { return config_; }

  // Defaults: batch in training (as published), per_image in evaluation.
  void set_norm_scope(NormScope training, NormScope evaluation) {
    train_scope_ = training;
    eval_scope_ = evaluation;
  }

 private:
  struct Impl;
  ModelConfig config_;
  NormScope train_scope_ = NormScope::batch, eval_scope_ = NormScope::per_image;
  std::shared_ptr<Impl> impl_;
};

std::shared_ptr<Classifier> make_model(const ModelConfig& config, Generator& init_rng);

// The configuration a published AGRadGalNet weights file stands for: agcnn, range_norm, ft, 3
// gates, unless its metadata says otherwise ("normalisation", "aggregation", "gates").
ModelConfig published_config(const std::map<std::string, std::string>& metadata = {});

// Parameters then buffers, by name, as detached copies (a snapshot; later training does not
// change it).
NamedTensors state_of(const Module& module);

// Copies tensors into the module's parameters and buffers by name. Every parameter and buffer
// must be present with its exact shape, except batch-norm num_batches_tracked (PyTorch files may
// omit it); tensors the module does not have are an error, except the published AG-CNN's unused
// fc1/fc2/fc3. Errors name source_path, the tensor and the shapes; the module is unchanged when
// anything is wrong.
void load_state(Module& module, const NamedTensors& tensors, const std::string& source_path);

// Model files: a run directory (its model.safetensors) or a .safetensors file. radgal's own files
// carry metadata "radgal.format" = "radgal-model-1" and "radgal.config" (ModelConfig JSON); a file
// without them is read as a published AGRadGalNet state dict (published_config).
struct LoadedModel {
  std::shared_ptr<Classifier> model;  // in evaluation mode
  ModelConfig config;
  std::string path;  // the .safetensors file read
  std::map<std::string, std::string> metadata;
  bool published = false;  // true when the file had no radgal.config
};
LoadedModel load_model(const std::string& file_or_run_dir);

// Writes the model's state with its metadata (atomic). extra_metadata entries are added.
void save_model(const std::string& path, const Classifier& model,
                const std::map<std::string, std::string>& extra_metadata = {});
// The same for a state held apart from a live model (the best or the averaged weights), which
// must be a complete state_of() of a model of `config`.
void save_model_state(const std::string& path, const ModelConfig& config, NamedTensors state,
                      const std::map<std::string, std::string>& extra_metadata = {});

}  // namespace radgal::nn
