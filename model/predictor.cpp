#include "model/predictor.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "model/electra.h"
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

}  // namespace

struct Predictor::State {
  ElectraModel model;
  at::Device device;
};

void Predictor::check_device(const std::string& device) { parse_device(device); }

Predictor::Predictor(const std::filesystem::path& model_dir, const std::string& device)
    : state_(std::make_unique<State>(State{load_pretrained(model_dir), parse_device(device)})) {
  state_->model.module()->to(state_->device);
  state_->model.module()->eval();
}

Predictor::~Predictor() = default;

const ElectraConfig& Predictor::config() const { return state_->model.config(); }

std::vector<PredictOutput> Predictor::run(const std::vector<const PredictInput*>& inputs) const {
  const ElectraConfig& config = state_->model.config();
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
      default:
        r.hidden = float_values(hidden[b].narrow(0, 0, n));
        break;
    }
  }
  return results;
}

}  // namespace electra
