// Batched inference of a checkpoint (`electra predict`) with no tensor in the interface: token ids in, each
// input's outputs as float vectors out, padding removed. Every head Hugging Face saves an ELECTRA or a BERT with
// runs: the fine-tuning heads, the bare encoder, and the pre-training heads (ElectraForPreTraining's replaced-token
// detection; the masked LM of ElectraForMaskedLM, BertForMaskedLM and BertForPreTraining, reported as the top k
// vocabulary entries per position; BertForPreTraining's next-sentence logits).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"

namespace electra {

struct PredictInput {
  std::vector<int64_t> input_ids, attention_mask, token_type_ids;  // one length
  // Pre-training heads only, empty or one per token, as transformers' `labels`: ElectraForPreTraining 1 (replaced)
  // / 0 (original); ElectraForMaskedLM the original id where the position is scored, -100 elsewhere.
  std::vector<int64_t> labels;
};

// What the model gave for one input of n tokens.
struct PredictOutput {
  // sequence classification / regression [C]; token classification [n * C]; replaced-token detection [n]
  std::vector<float> logits;
  // single-label sequence classification: softmax of logits [C]; replaced-token detection: sigmoid of logits [n]
  std::vector<float> probabilities;
  std::vector<int64_t> best;         // argmax: sequence classification [1], token classification [n]
  std::vector<float> start_logits, end_logits;  // question answering [n]
  std::vector<float> next_sentence_logits;      // BertForPreTraining [2]: 0 "B follows A", 1 "B is random"
  std::vector<float> hidden;         // bare encoder: last hidden state [n * H]
  // masked LM (also BertForPreTraining): per position the k most likely vocabulary ids, best first, their logits and
  // softmax [n * k]
  std::vector<int64_t> top_ids;
  std::vector<float> top_logits, top_probabilities;
  // Pre-training heads given labels: transformers' loss of this input alone (ElectraForPreTraining: BCE averaged over
  // the attended tokens; ElectraForMaskedLM: cross-entropy averaged over the labels that are not -100).
  std::optional<double> loss;
};

// Why `input`'s labels cannot be scored by a checkpoint of `config`, or "" when they can (or there are none): a head
// without a loss here, another length than input_ids, a value that is not 0/1 (ElectraForPreTraining) or -100 / a
// token id (ElectraForMaskedLM), or no position to score.
std::string labels_error(const ElectraConfig& config, const PredictInput& input);

struct PredictorOptions {
  std::string device = "cpu";  // cpu, cuda or cuda:N
  int64_t top_k = 5;           // masked LMs: vocabulary entries reported per position (1..vocab_size)
};

class Predictor {
 public:
  // Throws std::invalid_argument naming --device when `device` is not cpu, cuda or cuda:N, or CUDA is missing.
  static void check_device(const std::string& device);
  // Loads the checkpoint as load_pretrained() does, in eval mode, onto `options.device`; for a pre-training
  // checkpoint (config.json's ElectraForPreTraining / ElectraForMaskedLM / BertForMaskedLM / BertForPreTraining) also
  // its heads, from the same weights file.
  // Throws std::runtime_error naming the file and key of a missing or misshapen head tensor, std::invalid_argument
  // naming --top-k when it is outside 1..vocab_size.
  Predictor(const std::filesystem::path& model_dir, const PredictorOptions& options);
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  // The encoder's config; its `architecture` is the checkpoint's class, pre-training heads included.
  const ElectraConfig& config() const;
  // Pads the inputs to the longest (pad_token_id, mask 0) and runs them as one batch without gradients. Throws
  // std::invalid_argument with labels_error() for an input whose labels cannot be scored.
  std::vector<PredictOutput> run(const std::vector<const PredictInput*>& inputs) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace electra
