// electra predict: runs a checkpoint on JSON lines of pre-tokenised ids and writes one JSON line per input
// line, in order. A malformed line gets {"error": "line N: ..."} in its place; the others are still predicted.
#include <fmt/core.h>
#include <torch/torch.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "model/electra.h"

namespace electra::cli {
namespace {

// Output JSON: keys in the documented order, floats printed as the shortest text that reads back the same float.
using OutJson = nlohmann::basic_json<nlohmann::ordered_map, std::vector, std::string, bool, std::int64_t,
                                     std::uint64_t, float>;

struct PredictOptions {
  std::filesystem::path model_dir;
  std::string input;   // file, or "-" for standard input
  std::string output;  // file; empty: standard output
  int64_t batch_size = 32;
  std::string device = "cpu";
};

struct Item {
  std::vector<int64_t> input_ids, attention_mask, token_type_ids;
};

// One input line: its parsed item, or the reason it cannot be predicted; then its output.
struct Entry {
  int64_t line = 0;
  std::optional<Item> item;
  std::string error;
  OutJson result;
};

torch::Device parse_device(const std::string& name) {
  if (name != "cpu" && name.rfind("cuda", 0) != 0)
    throw std::invalid_argument(fmt::format("--device: unknown device '{}' (expected cpu, cuda or cuda:N)", name));
  if (name == "cpu") return torch::kCPU;
  if (!torch::cuda::is_available())
    throw std::invalid_argument(fmt::format(
        "--device {}: CUDA is not available (this LibTorch build has no CUDA support or no GPU is visible); use "
        "--device cpu",
        name));
  try {
    return torch::Device(name);
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("--device: cannot parse '{}' (expected cpu, cuda or cuda:N)", name));
  }
}

std::vector<int64_t> read_int_list(const nlohmann::json& value, const char* key) {
  if (!value.is_array()) throw std::invalid_argument(fmt::format("'{}' must be a list of integers", key));
  std::vector<int64_t> out;
  out.reserve(value.size());
  for (const auto& v : value) {
    if (!v.is_number_integer())
      throw std::invalid_argument(fmt::format("'{}' holds {}, not an integer", key, v.dump()));
    out.push_back(v.get<int64_t>());
  }
  return out;
}

// Parses and checks one line against the model's limits; throws std::invalid_argument with the reason.
Item parse_item(const std::string& text, const ElectraConfig& config) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw std::invalid_argument(fmt::format("invalid JSON ({})", e.what()));
  }
  if (!j.is_object()) throw std::invalid_argument("expected a JSON object");
  for (const auto& [key, value] : j.items())
    if (key != "input_ids" && key != "attention_mask" && key != "token_type_ids")
      throw std::invalid_argument(
          fmt::format("unknown key '{}' (expected input_ids, attention_mask, token_type_ids)", key));
  if (!j.contains("input_ids")) throw std::invalid_argument("missing 'input_ids'");
  Item item;
  item.input_ids = read_int_list(j["input_ids"], "input_ids");
  const auto n = static_cast<int64_t>(item.input_ids.size());
  if (n == 0) throw std::invalid_argument("'input_ids' is empty");
  if (n > config.max_position_embeddings)
    throw std::invalid_argument(
        fmt::format("{} tokens, more than the model's max_position_embeddings {}", n, config.max_position_embeddings));
  for (int64_t id : item.input_ids)
    if (id < 0 || id >= config.vocab_size)
      throw std::invalid_argument(fmt::format("input_ids: {} is outside the vocabulary (0..{})", id, config.vocab_size - 1));
  item.attention_mask.assign(n, 1);
  item.token_type_ids.assign(n, 0);
  if (j.contains("attention_mask")) {
    item.attention_mask = read_int_list(j["attention_mask"], "attention_mask");
    if (static_cast<int64_t>(item.attention_mask.size()) != n)
      throw std::invalid_argument(
          fmt::format("attention_mask has {} entries, input_ids {}", item.attention_mask.size(), n));
    for (int64_t m : item.attention_mask)
      if (m != 0 && m != 1) throw std::invalid_argument(fmt::format("attention_mask: {} is not 0 or 1", m));
  }
  if (j.contains("token_type_ids")) {
    item.token_type_ids = read_int_list(j["token_type_ids"], "token_type_ids");
    if (static_cast<int64_t>(item.token_type_ids.size()) != n)
      throw std::invalid_argument(
          fmt::format("token_type_ids has {} entries, input_ids {}", item.token_type_ids.size(), n));
    for (int64_t t : item.token_type_ids)
      if (t < 0 || t >= config.type_vocab_size)
        throw std::invalid_argument(
            fmt::format("token_type_ids: {} is outside 0..{}", t, config.type_vocab_size - 1));
  }
  return item;
}

std::vector<float> row(const at::Tensor& t) {  // 1-D float CPU tensor -> vector
  auto c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

OutJson matrix(const at::Tensor& t) {  // [n, k] -> [[...], ...]
  OutJson out = OutJson::array();
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(row(t[i]));
  return out;
}

// Runs the items of `batch` (padded to the longest) and fills their results.
void run_batch(const ElectraModel& model, const torch::Device& device, std::vector<Entry*>& batch) {
  const auto& config = model.config();
  const auto size = static_cast<int64_t>(batch.size());
  int64_t longest = 0;
  for (const Entry* e : batch) longest = std::max<int64_t>(longest, e->item->input_ids.size());
  auto ids = torch::full({size, longest}, config.pad_token_id, torch::kLong);
  auto mask = torch::zeros({size, longest}, torch::kLong);
  auto types = torch::zeros({size, longest}, torch::kLong);
  for (int64_t b = 0; b < size; ++b) {
    const Item& item = *batch[b]->item;
    const auto n = static_cast<int64_t>(item.input_ids.size());
    ids[b].narrow(0, 0, n).copy_(torch::tensor(item.input_ids, torch::kLong));
    mask[b].narrow(0, 0, n).copy_(torch::tensor(item.attention_mask, torch::kLong));
    types[b].narrow(0, 0, n).copy_(torch::tensor(item.token_type_ids, torch::kLong));
  }
  torch::NoGradGuard no_grad;
  auto out = model.forward(ids.to(device), mask.to(device), types.to(device));
  auto cpu = [](const at::Tensor& t) { return t.defined() ? t.to(torch::kCPU, torch::kFloat) : t; };
  const auto logits = cpu(out.logits), start = cpu(out.start_logits), end = cpu(out.end_logits);
  const auto hidden = config.architecture == Architecture::model ? cpu(out.last_hidden_state) : at::Tensor();

  for (int64_t b = 0; b < size; ++b) {
    const auto n = static_cast<int64_t>(batch[b]->item->input_ids.size());
    OutJson r = OutJson::object();
    switch (config.architecture) {
      case Architecture::sequence_classification:
        if (config.is_regression()) {
          r["score"] = logits[b][0].item<float>();
          r["logits"] = row(logits[b]);
        } else {
          const auto probs = torch::softmax(logits[b], 0);
          const int64_t best = probs.argmax().item<int64_t>();
          r["label"] = config.id2label[best];
          r["score"] = probs[best].item<float>();
          r["logits"] = row(logits[b]);
        }
        break;
      case Architecture::token_classification: {
        const auto positions = logits[b].narrow(0, 0, n);
        const auto best = positions.argmax(1);
        OutJson labels = OutJson::array();
        for (int64_t t = 0; t < n; ++t) labels.push_back(config.id2label[best[t].item<int64_t>()]);
        r["labels"] = labels;
        r["logits"] = matrix(positions);
        break;
      }
      case Architecture::question_answering:
        r["start_logits"] = row(start[b].narrow(0, 0, n));
        r["end_logits"] = row(end[b].narrow(0, 0, n));
        break;
      default:
        r["last_hidden_state"] = matrix(hidden[b].narrow(0, 0, n));
        break;
    }
    batch[b]->result = std::move(r);
  }
}

void run_predict(const PredictOptions& options) {
  if (options.batch_size < 1)
    throw std::invalid_argument(fmt::format("--batch-size: must be at least 1, got {}", options.batch_size));
  const torch::Device device = parse_device(options.device);
  std::ifstream file;
  std::istream* in = &std::cin;
  if (options.input != "-") {
    file.open(options.input);
    if (!file) throw std::runtime_error(fmt::format("cannot read {}", options.input));
    in = &file;
  }
  std::ofstream out_file;
  std::ostream* out = &std::cout;
  if (!options.output.empty()) {
    out_file.open(options.output, std::ios::binary | std::ios::trunc);
    if (!out_file) throw std::runtime_error(fmt::format("cannot write {}", options.output));
    out = &out_file;
  }

  ElectraModel model = load_pretrained(options.model_dir);
  model.module()->to(device);
  model.module()->eval();

  std::vector<Entry> pending;
  int64_t lines = 0, errors = 0;
  auto flush = [&] {
    std::vector<Entry*> batch;
    for (auto& e : pending)
      if (e.item) batch.push_back(&e);
    if (!batch.empty()) run_batch(model, device, batch);
    for (auto& e : pending) {
      if (!e.item) e.result = OutJson{{"error", fmt::format("line {}: {}", e.line, e.error)}};
      *out << e.result.dump() << '\n';
    }
    out->flush();
    if (!*out) throw std::runtime_error(fmt::format("cannot write {}", options.output.empty() ? "stdout" : options.output));
    pending.clear();
  };

  std::string text;
  int64_t in_batch = 0;
  while (std::getline(*in, text)) {
    Entry entry;
    entry.line = ++lines;
    try {
      entry.item = parse_item(text, model.config());
      ++in_batch;
    } catch (const std::invalid_argument& e) {
      entry.error = e.what();
      ++errors;
    }
    pending.push_back(std::move(entry));
    if (in_batch == options.batch_size) {
      flush();
      in_batch = 0;
    }
  }
  if (in->bad()) throw std::runtime_error(fmt::format("error reading {}", options.input));
  flush();
  if (errors > 0)
    throw std::runtime_error(fmt::format("{}: {} of {} lines could not be predicted (see their \"error\" lines)",
                                         options.input, errors, lines));
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  auto* cmd = app.add_subcommand("predict", "Run a checkpoint on JSON lines of token ids, one JSON line out per line in");
  cmd->add_option("--model", options->model_dir, "Checkpoint directory (config.json + weights)")->required();
  cmd->add_option("--input", options->input,
                  "JSON lines: {\"input_ids\": [...], \"attention_mask\": [...], \"token_type_ids\": [...]} "
                  "(the last two optional); - reads standard input")
      ->required();
  cmd->add_option("--output", options->output, "Output file (default: standard output)");
  cmd->add_option("--batch-size", options->batch_size, "Lines per batch, padded to the longest")->capture_default_str();
  cmd->add_option("--device", options->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->callback([options] { run_predict(*options); });
}

}  // namespace electra::cli
