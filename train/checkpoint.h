// Checkpoints: everything a run needs to continue exactly where it stopped, in one safetensors
// file, and the atomic file writes the run directory relies on.
//
// Layout of a checkpoint file (safetensors, float32 tensors):
//   model.<name>   the model's parameters and buffers after the last finished epoch
//   best.<name>    the best weights and buffers so far (what model.safetensors holds)
//   ema.<name>     the running weight average, when the run keeps one (train/ema.h)
//   swa.<name>     the stochastic weight average, when the run keeps one (train/swa.h)
//   optim.<...>    the optimiser state, names as Optimizer::state_tensors() gives them
// and metadata
//   radgal.format        "radgal-checkpoint-1"
//   radgal.config        the model configuration (nn::ModelConfig JSON)
//   radgal.train_config  the full training configuration (TrainConfig JSON)
//   radgal.state         the loop state: finished epochs, step count, history, early-stopping and
//                        schedule state, dropout generator state, elapsed seconds (JSON;
//                        doubles and 64-bit integers round-trip exactly)
//
// Writes are atomic (temporary file in the same folder, fsync, rename, fsync of the folder): a
// crash or a failed write leaves the previous file complete and in place.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "nn/safetensors.h"
#include "train/optim.h"

namespace radgal {

constexpr const char* kCheckpointFormat = "radgal-checkpoint-1";

struct Checkpoint {
  nlohmann::json model_config;
  nlohmann::json train_config;
  nlohmann::json state;
  nn::NamedTensors model;       // names without the "model." prefix
  nn::NamedTensors best_model;  // names without the "best." prefix
  nn::NamedTensors ema_model;   // names without the "ema." prefix; empty without averaging
  nn::NamedTensors swa_model;   // names without the "swa." prefix; empty without SWA
  NamedTensorList optimizer;    // names as the optimiser gives them ("optim.step", ...)
};

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Throws std::runtime_error naming the path when the file is not a radgal checkpoint or is
// incomplete.
Checkpoint read_checkpoint(const std::string& path);

// Replaces path's contents with `bytes` atomically (see above). Throws std::runtime_error naming
// the path and the system error.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace radgal
