// Batched inference of a checkpoint (`electra predict`) with no tensor in the interface: token ids in, each
// input's outputs as float vectors out, padding removed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"

namespace electra {

struct PredictInput {
  std::vector<int64_t> input_ids, attention_mask, token_type_ids;  // one length
};

// What the model gave for one input of n tokens.
struct PredictOutput {
  std::vector<float> logits;         // sequence classification / regression [C]; token classification [n * C]
  std::vector<float> probabilities;  // single-label sequence classification: softmax of logits [C]
  std::vector<int64_t> best;         // argmax: sequence classification [1], token classification [n]
  std::vector<float> start_logits, end_logits;  // question answering [n]
  std::vector<float> hidden;         // bare encoder: last hidden state [n * H]
};

class Predictor {
 public:
  // Throws std::invalid_argument naming --device when `device` is not cpu, cuda or cuda:N, or CUDA is missing.
  static void check_device(const std::string& device);
  // Loads the checkpoint as load_pretrained() does, in eval mode, onto `device`.
  Predictor(const std::filesystem::path& model_dir, const std::string& device);
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  const ElectraConfig& config() const;
  // Pads the inputs to the longest (pad_token_id, mask 0) and runs them as one batch without gradients.
  std::vector<PredictOutput> run(const std::vector<const PredictInput*>& inputs) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace electra
