// electra inspect: what a checkpoint directory holds: config, head, labels, parameter counts, weights file and
// dtype, and which keys loading ignored or newly initialised.
#include <fmt/core.h>

#include <algorithm>
#include <string>

#include "architectures/checkpoints.h"
#include "cli/commands.h"
#include "train/memory_estimate.h"

namespace electra::cli {
namespace {

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string list_or_none(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "none" : out;
}

// The fine-tuning memory estimate (docs/memory.md) at a few batch sizes, for sequences of the usual 128 tokens (the
// model's positions when fewer), eval batch 64, on the CPU in fp32; and the largest power-of-two batch that fits now.
void print_memory(const ElectraConfig& c) {
  ExperimentOptions o;
  o.data.max_seq_length = std::min<int64_t>(128, c.max_position_embeddings);
  const double baseline = typical_baseline_bytes();
  std::string peaks;
  for (const int64_t batch : {8, 16, 32, 64, 128}) {
    o.train.batch_size = batch;
    peaks += fmt::format("{}batch {} {}", peaks.empty() ? "" : ", ", batch,
                         format_bytes(fine_tune_estimate(c, o, batch, nullptr, baseline).peak()));
  }
  fmt::print("fine-tune memory (CPU, fp32, {} tokens, eval batch {}): {}\n", o.data.max_seq_length,
             o.train.eval_batch_size, peaks);
  const MemoryHeadroom room = memory_headroom();
  if (room.bytes < 0) return;
  const double current = static_cast<double>(std::max<int64_t>(0, process_status_bytes("VmRSS")));
  int64_t fits = 0;
  for (int64_t batch = 1; batch <= 4096; batch *= 2) {
    o.train.batch_size = batch;
    if (fine_tune_estimate(c, o, batch, nullptr, baseline).peak() - current > static_cast<double>(room.bytes)) break;
    fits = batch;
  }
  fmt::print("              the largest power-of-two train.batch_size that fits the {} this process may use ({}): "
             "{}\n",
             format_bytes(static_cast<double>(room.bytes)), room.source,
             fits == 4096 ? std::string("4096 or more") : fits > 0 ? std::to_string(fits) : std::string("none"));
}

void run_inspect(const std::filesystem::path& dir) {
  const CheckpointSummary summary = summarize_checkpoint(dir);
  const LoadReport& report = summary.report;
  const ElectraConfig& c = summary.config;

  fmt::print("model:        {}\n", dir.string());
  fmt::print("family:       {} (model_type)\n", c.model_type);
  fmt::print("config.json:  {}\n", to_hf_class(report.checkpoint_architecture, c.model_type));
  std::string head = c.hf_class();
  if (c.architecture == Architecture::sequence_classification)
    head += c.is_regression() ? " (regression, MSE loss)" : " (single-label classification, cross-entropy loss)";
  if (c.architecture == Architecture::token_classification) head += " (cross-entropy per token)";
  if (c.architecture == Architecture::question_answering) head += " (span start/end logits)";
  if (c.architecture == Architecture::model) head += " (encoder only, no head)";
  fmt::print("built:        {}\n", head);
  if (c.architecture == Architecture::sequence_classification || c.architecture == Architecture::token_classification) {
    std::vector<std::string> labels;
    for (size_t i = 0; i < c.id2label.size(); ++i) labels.push_back(fmt::format("{}={}", i, c.id2label[i]));
    fmt::print("labels:       {} ({})\n", c.num_labels(), list_or_none(labels));
  }
  fmt::print("encoder:      vocab {}, embedding {}{}, hidden {}, {} layers, {} heads, intermediate {}, {}{}\n",
             c.vocab_size, c.embedding_size, c.embedding_size != c.hidden_size ? " (projected)" : "", c.hidden_size,
             c.num_hidden_layers, c.num_attention_heads, c.intermediate_size, c.hidden_act,
             c.has_pooler() ? ", pooler" : "");
  fmt::print("              max positions {}, token types {}, layer_norm_eps {}, pad id {}\n",
             c.max_position_embeddings, c.type_vocab_size, c.layer_norm_eps, c.pad_token_id);
  fmt::print("dropout:      hidden {}, attention {}, classifier {}\n", c.hidden_dropout_prob,
             c.attention_probs_dropout_prob, c.head_dropout());

  const int64_t embeddings = summary.embedding_parameters, encoder = summary.encoder_parameters,
                head_count = summary.head_parameters;
  fmt::print("parameters:   embeddings {}, encoder {}, head {}, total {}\n", with_commas(embeddings),
             with_commas(encoder), with_commas(head_count), with_commas(embeddings + encoder + head_count));
  fmt::print("weights:      {} ({})\n", report.weights_file.string(), report.weights_dtype);
  fmt::print("newly initialised: {}\n", list_or_none(report.newly_initialised));
  fmt::print("ignored:      {}\n", list_or_none(report.ignored));
  print_memory(c);
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto dir = std::make_shared<std::filesystem::path>();
  auto* cmd = app.add_subcommand("inspect", "Show a checkpoint's config, head, labels, parameter counts and weights");
  cmd->add_option("--model", *dir, "Checkpoint directory (config.json + weights)")->required();
  cmd->callback([dir] { run_inspect(*dir); });
}

}  // namespace electra::cli
