#include "architectures/predictor.h"

#include <ATen/ATen.h>
#include <ATen/TensorIndexing.h>
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "architectures/electra_model.h"
#include "architectures/key_names.h"
#include "heads/pretraining.h"
#include "model/encoder.h"
#include "model/runtime.h"

namespace electra {
namespace {

at::Device parse_device(const std::string& name) {
  if (name != "cpu" && name.rfind("cuda", 0) != 0)
    throw std::invalid_argument(fmt::format("--device: unknown device '{}' (expected cpu, cuda or cuda:N)", name));
  if (name == "cpu") return at::kCPU;
  if (cuda_device_count() == 0)
    throw std::invalid_argument(fmt::format(
        "--device {}: CUDA is not available (this LibTorch build has no CUDA support or no GPU is visible); use "
        "--device cpu",
        name));
  try {
    return at::Device(name);
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("--device: cannot parse '{}' (expected cpu, cuda or cuda:N)", name));
  }
}

// Copies `prefix` + each parameter name of `head` from `tensors` (LayerNorm gamma/beta accepted, any float dtype).
void load_head(torch::nn::Module& head, const std::string& prefix, const TensorMap& tensors, const std::string& file,
               Architecture architecture, const std::string& model_type) {
  at::NoGradGuard no_grad;
  for (auto& p : head.named_parameters(/*recurse=*/true)) {
    const std::string key = prefix + p.key();
    auto it = tensors.find(key);
    if (it == tensors.end() && has_suffix(key, "LayerNorm.weight"))
      it = tensors.find(key.substr(0, key.size() - 6) + "gamma");
    if (it == tensors.end() && has_suffix(key, "LayerNorm.bias")) it = tensors.find(key.substr(0, key.size() - 4) + "beta");
    if (it == tensors.end())
      throw std::runtime_error(fmt::format("{}: missing key '{}' of the {} head that config.json names", file, key,
                                           to_hf_class(architecture, model_type)));
    const at::Tensor& tensor = it->second;
    if (tensor.sizes() != p.value().sizes())
      throw std::runtime_error(fmt::format("{}: key '{}': expected shape {}, found {}", file, it->first,
                                           shape_string(p.value().sizes()), shape_string(tensor.sizes())));
    if (!at::isFloatingType(tensor.scalar_type()))
      throw std::runtime_error(fmt::format("{}: key '{}': expected floating-point weights", file, it->first));
    p.value().copy_(tensor.to(p.value().scalar_type()));
  }
}

// The bare encoder's word embedding matrix [V, E] (the masked LM's output weights).
at::Tensor word_embeddings(const ElectraModel& model) {
  for (const auto& [name, tensor] : model.named_parameters())
    if (has_suffix(name, "embeddings.word_embeddings.weight")) return tensor;
  throw std::logic_error("the encoder has no word embeddings");
}

}  // namespace

struct Predictor::State {
  ElectraModel model;
  at::Device device;
  ElectraConfig config;  // the model's, with the checkpoint's architecture
  int64_t top_k = 5;
  DiscriminatorPredictions discriminator_head{nullptr};  // ElectraForPreTraining
  GeneratorPredictions generator_head{nullptr};          // ElectraForMaskedLM, with:
  GeneratorLmHead generator_lm_head{nullptr};            //   its bias; its weight is the word embeddings:
  at::Tensor lm_weight;                                  //   the encoder's, on the device (found once)
  BertLmPredictionHead bert_lm_head{nullptr};            // BertForMaskedLM, BertForPreTraining (with lm_weight)
  torch::nn::Linear next_sentence_head{nullptr};         // BertForPreTraining

  // Vocabulary logits [n, V] of the hidden states [n, H] of one input (masked LM heads).
  at::Tensor vocabulary_logits(const at::Tensor& hidden) {
    if (bert_lm_head) return bert_lm_head->forward(hidden, lm_weight);
    return at::linear(generator_head->forward(hidden), lm_weight, generator_lm_head->bias);
  }
  bool masked_lm() const { return bert_lm_head || generator_head; }
};

namespace {

// The stored tied decoder (key `weight`, and `bias` when given) must be the word embeddings (and the head's bias):
// transformers ties them, and a file with other matrices there describes a model these heads would not reproduce.
void check_tied(const TensorMap& tensors, const std::string& weight_key, const at::Tensor& embeddings,
                const std::string& bias_key, const at::Tensor& bias, const std::string& file) {
  for (const auto& [key, expected] : {std::make_pair(weight_key, embeddings), std::make_pair(bias_key, bias)}) {
    auto it = tensors.find(key);
    if (key.empty() || it == tensors.end()) continue;
    const at::Tensor stored = it->second.to(at::kFloat);
    if (stored.sizes() != expected.sizes() || !at::allclose(stored, expected.detach().to(at::kFloat), 0.0, 0.0))
      throw std::runtime_error(fmt::format(
          "{}: key '{}' is not {} (an untied output layer, which electra does not run: transformers ties the two)",
          file, key, key == weight_key ? "the word embedding matrix" : "the head's bias"));
  }
}

}  // namespace

std::string labels_error(const ElectraConfig& config, const PredictInput& input) {
  if (input.labels.empty()) return "";
  const bool discriminator = config.architecture == Architecture::pretraining &&
                             config.family().pretraining_head == PretrainingHeadKind::replaced_token_detection;
  if (!discriminator && config.architecture != Architecture::masked_lm)
    return fmt::format("labels: only pre-training checkpoints (ElectraForPreTraining, ElectraForMaskedLM, "
                       "BertForMaskedLM) report a loss; this one is {}",
                       config.hf_class());
  if (input.labels.size() != input.input_ids.size())
    return fmt::format("labels has {} entries, input_ids {}", input.labels.size(), input.input_ids.size());
  for (const int64_t l : input.labels) {
    if (discriminator && l != 0 && l != 1) return fmt::format("labels: {} is not 0 (original) or 1 (replaced)", l);
    if (!discriminator && l != -100 && (l < 0 || l >= config.vocab_size))
      return fmt::format("labels: {} is neither -100 (not scored) nor a token id (0..{})", l, config.vocab_size - 1);
  }
  if (!discriminator && std::all_of(input.labels.begin(), input.labels.end(), [](int64_t l) { return l == -100; }))
    return "labels: every entry is -100, no position to score";
  return "";
}

void Predictor::check_device(const std::string& device) { parse_device(device); }

Predictor::Predictor(const std::filesystem::path& model_dir, const PredictorOptions& options) {
  const at::Device device = parse_device(options.device);
  LoadReport report;
  TensorMap tensors;  // the keys the encoder did not use: the pre-training heads
  ElectraModel model = load_pretrained(model_dir, {}, &report, &tensors);
  ElectraConfig config = model.config();
  config.architecture = report.checkpoint_architecture;
  state_ = std::make_unique<State>(State{std::move(model), device, config, options.top_k, nullptr, nullptr, nullptr, {}});
  State& s = *state_;
  const std::string file = report.weights_file.string();
  const bool bert_heads = config.family().pretraining_head == PretrainingHeadKind::masked_lm_next_sentence;
  const bool masked_lm = config.architecture == Architecture::masked_lm ||
                         (bert_heads && config.architecture == Architecture::pretraining);
  if (masked_lm && (options.top_k < 1 || options.top_k > config.vocab_size))
    throw std::invalid_argument(
        fmt::format("--top-k: {} is outside 1..{} (the model's vocab_size)", options.top_k, config.vocab_size));
  auto load = [&](torch::nn::Module& head, const std::string& prefix) {
    load_head(head, prefix, tensors, file, config.architecture, config.model_type);
    head.to(device);
    head.eval();
  };
  if (config.architecture == Architecture::pretraining && !bert_heads) {
    s.discriminator_head = DiscriminatorPredictions(config);
    load(*s.discriminator_head, "discriminator_predictions.");
  } else if (masked_lm && !bert_heads) {
    s.generator_head = GeneratorPredictions(config);
    s.generator_lm_head = GeneratorLmHead(config.vocab_size);
    load(*s.generator_head, "generator_predictions.");
    load(*s.generator_lm_head, "generator_lm_head.");
    check_tied(tensors, "generator_lm_head.weight", word_embeddings(s.model), "", at::Tensor(), file);
  } else if (masked_lm) {
    s.bert_lm_head = BertLmPredictionHead(config);
    load(*s.bert_lm_head, "cls.predictions.");
    check_tied(tensors, "cls.predictions.decoder.weight", word_embeddings(s.model), "cls.predictions.decoder.bias",
               s.bert_lm_head->bias.to(at::kCPU), file);
    if (config.architecture == Architecture::pretraining) {
      s.next_sentence_head = torch::nn::Linear(config.hidden_size, 2);
      load(*s.next_sentence_head, "cls.seq_relationship.");
    }
  }
  s.model.module()->to(device);
  s.model.module()->eval();
  if (s.masked_lm()) s.lm_weight = word_embeddings(s.model);  // after the move to the device
}

Predictor::~Predictor() = default;

const ElectraConfig& Predictor::config() const { return state_->config; }

std::vector<PredictOutput> Predictor::run(const std::vector<const PredictInput*>& inputs) const {
  const ElectraConfig& config = state_->config;
  const auto size = static_cast<int64_t>(inputs.size());
  int64_t longest = 0;
  for (const PredictInput* in : inputs) longest = std::max<int64_t>(longest, in->input_ids.size());
  auto ids = at::full({size, longest}, config.pad_token_id, at::kLong);
  auto mask = at::zeros({size, longest}, at::kLong);
  auto types = at::zeros({size, longest}, at::kLong);
  for (int64_t b = 0; b < size; ++b) {
    const PredictInput& in = *inputs[b];
    const auto n = static_cast<int64_t>(in.input_ids.size());
    ids[b].narrow(0, 0, n).copy_(at::tensor(in.input_ids, at::kLong));
    mask[b].narrow(0, 0, n).copy_(at::tensor(in.attention_mask, at::kLong));
    types[b].narrow(0, 0, n).copy_(at::tensor(in.token_type_ids, at::kLong));
  }
  at::NoGradGuard no_grad;
  const at::Device device = state_->device;
  const ModelOutput out = state_->model.forward(ids.to(device), mask.to(device), types.to(device));
  auto cpu = [](const at::Tensor& t) { return t.defined() ? t.to(at::kCPU, at::kFloat) : t; };
  const auto logits = cpu(out.logits), start = cpu(out.start_logits), end = cpu(out.end_logits);
  const auto hidden = config.architecture == Architecture::model ? cpu(out.last_hidden_state) : at::Tensor();
  const auto replaced =
      state_->discriminator_head ? cpu(state_->discriminator_head->forward(out.last_hidden_state)) : at::Tensor();

  const auto next_sentence =
      state_->next_sentence_head ? cpu(state_->next_sentence_head->forward(out.pooler_output)) : at::Tensor();
  // The masked LM's outputs of input b (n tokens), one input at a time: [n, V] logits of a whole batch would be
  // batch x n x V floats.
  auto fill_masked_lm = [&](int64_t b, int64_t n, PredictOutput& r) {
    const at::Tensor vocab_logits = state_->vocabulary_logits(out.last_hidden_state[b].narrow(0, 0, n)).to(at::kFloat);
    const auto [top_logits, top_ids] = vocab_logits.topk(state_->top_k, /*dim=*/1);
    const at::Tensor top_probabilities = (top_logits - vocab_logits.logsumexp(1, /*keepdim=*/true)).exp();
    r.top_logits = float_values(top_logits);
    r.top_probabilities = float_values(top_probabilities);
    const at::Tensor ids = top_ids.to(at::kCPU).contiguous();
    r.top_ids.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
    if (!inputs[b]->labels.empty()) {
      const at::Tensor labels = at::tensor(inputs[b]->labels, at::kLong).to(vocab_logits.device());
      const at::Tensor scored = labels.ne(-100);
      r.loss = masked_lm_loss(vocab_logits.index({scored}), labels.index({scored})).item<double>();
    }
  };

  for (const PredictInput* in : inputs)
    if (std::string error = labels_error(config, *in); !error.empty()) throw std::invalid_argument(error);
  std::vector<PredictOutput> results(inputs.size());
  for (int64_t b = 0; b < size; ++b) {
    const auto n = static_cast<int64_t>(inputs[b]->input_ids.size());
    PredictOutput& r = results[b];
    switch (config.architecture) {
      case Architecture::sequence_classification:
        r.logits = float_values(logits[b]);
        if (!config.is_regression()) {
          const auto probs = at::softmax(logits[b], 0);
          r.probabilities = float_values(probs);
          r.best = {probs.argmax().item<int64_t>()};
        }
        break;
      case Architecture::token_classification: {
        const auto positions = logits[b].narrow(0, 0, n);
        r.logits = float_values(positions);
        r.best = std::vector<int64_t>(n);
        const auto best = positions.argmax(1).contiguous();
        std::copy(best.data_ptr<int64_t>(), best.data_ptr<int64_t>() + n, r.best.begin());
        break;
      }
      case Architecture::question_answering:
        r.start_logits = float_values(start[b].narrow(0, 0, n));
        r.end_logits = float_values(end[b].narrow(0, 0, n));
        break;
      case Architecture::pretraining: {
        if (state_->bert_lm_head) {  // BertForPreTraining
          fill_masked_lm(b, n, r);
          r.next_sentence_logits = float_values(next_sentence[b]);
          break;
        }
        const auto positions = replaced[b].narrow(0, 0, n);
        r.logits = float_values(positions);
        r.probabilities = float_values(at::sigmoid(positions));
        if (!inputs[b]->labels.empty())
          r.loss = replaced_token_loss(positions.unsqueeze(0), at::tensor(inputs[b]->labels, at::kLong).unsqueeze(0),
                                       at::tensor(inputs[b]->attention_mask, at::kLong).unsqueeze(0))
                       .item<double>();
        break;
      }
      case Architecture::masked_lm:
        fill_masked_lm(b, n, r);
        break;
      default:
        r.hidden = float_values(hidden[b].narrow(0, 0, n));
        break;
    }
  }
  return results;
}

}  // namespace electra
