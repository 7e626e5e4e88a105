// electra inspect: what a checkpoint directory holds: config, head, labels, parameter counts, weights file and
// dtype, and which keys loading ignored or newly initialised.
#include <fmt/core.h>

#include <string>

#include "architectures/checkpoints.h"
#include "cli/commands.h"

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
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto dir = std::make_shared<std::filesystem::path>();
  auto* cmd = app.add_subcommand("inspect", "Show a checkpoint's config, head, labels, parameter counts and weights");
  cmd->add_option("--model", *dir, "Checkpoint directory (config.json + weights)")->required();
  cmd->callback([dir] { run_inspect(*dir); });
}

}  // namespace electra::cli
