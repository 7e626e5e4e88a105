#include "pretrain/options.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "common/limits.h"
#include "common/option_fields.h"

namespace electra {
namespace {

// The one list of keys, YAML key = dotted struct path: this command's and add_shared_fields'. YAML holds the
// top-level keys first, then the sections in table.sections' order.
FieldTable fields(PretrainOptions& o) {
  FieldTable table;
  table.sections = {"model", "objective", "data", "optimizer", "schedule", "train"};
  table.fields = {
      {"model.embedding_size", &o.model.embedding_size},
      {"model.hidden_size", &o.model.hidden_size},
      {"model.num_hidden_layers", &o.model.num_hidden_layers},
      {"model.num_attention_heads", &o.model.num_attention_heads},
      {"model.intermediate_size", &o.model.intermediate_size},
      {"model.max_position_embeddings", &o.model.max_position_embeddings},
      {"model.hidden_act", &o.model.hidden_act},
      {"model.hidden_dropout_prob", &o.model.hidden_dropout_prob},
      {"model.attention_probs_dropout_prob", &o.model.attention_probs_dropout_prob},
      {"model.initializer_range", &o.model.initializer_range},
      {"model.generator_size", &o.model.generator_size},
      {"objective.mask_prob", &o.objective.mask_prob},
      {"objective.max_predictions_per_seq", &o.objective.max_predictions_per_seq},
      {"objective.mask_token_prob", &o.objective.mask_token_prob},
      {"objective.disc_weight", &o.objective.disc_weight},
      {"objective.disc_lr_scale", &o.objective.disc_lr_scale},
      {"objective.temperature", &o.objective.temperature},
      {"objective.disallow_correct", &o.objective.disallow_correct},
      {"data.corpus", &o.data.corpus},
      {"data.max_seq_length", &o.data.max_seq_length},
      {"data.document_format", &o.data.document_format},
      {"data.split_sentences", &o.data.split_sentences},
      {"data.short_seq_prob", &o.data.short_seq_prob},
      {"data.single_segment_prob", &o.data.single_segment_prob},
      {"data.shuffle_buffer", &o.data.shuffle_buffer},
      {"train.max_steps", &o.train.max_steps},
      {"train.batch_size", &o.train.batch_size},
      {"train.gradient_accumulation_steps", &o.train.gradient_accumulation_steps},
      {"train.save_every", &o.train.save_every},
      {"train.logging_every", &o.train.logging_every},
      {"train.seed", &o.train.seed},
      {"train.dump_first_step", &o.train.dump_first_step},
      {"vocab", &o.vocab},
  };
  add_shared_fields(table, o.output_dir, o.device, o.optimizer, o.schedule, false);
  return table;
}

}  // namespace

void apply_pretrain_setting(PretrainOptions& options, const std::string& assignment) {
  apply_assignment(fields(options), assignment);
}

PretrainOptions load_pretrain_options(const std::filesystem::path& file, const std::vector<std::string>& sets) {
  PretrainOptions options;
  if (!file.empty()) apply_yaml_mapping(fields(options), load_yaml_mapping(file), file.string(), options.warnings);
  for (const auto& s : sets) apply_pretrain_setting(options, s);
  return options;
}

void validate_pretrain_options(const PretrainOptions& o) {
  const auto fail = [](const std::string& key, const auto& value, const std::string& rule) {
    bad_option_range(key, value, rule);
  };
  validate_shared_options(o.device, o.optimizer, o.schedule);
  // Upper bounds first (common/limits.h): each is checked before the vocabulary or the corpus is read.
  const struct {
    const char* key;
    int64_t value, limit;
  } bounded[] = {
      {"model.embedding_size", o.model.embedding_size, limits::kEmbeddingSize},
      {"model.hidden_size", o.model.hidden_size, limits::kHiddenSize},
      {"model.num_hidden_layers", o.model.num_hidden_layers, limits::kLayers},
      {"model.num_attention_heads", o.model.num_attention_heads, limits::kAttentionHeads},
      {"model.intermediate_size", o.model.intermediate_size, limits::kIntermediateSize},
      {"model.max_position_embeddings", o.model.max_position_embeddings, limits::kPositions},
      {"objective.max_predictions_per_seq", o.objective.max_predictions_per_seq, o.data.max_seq_length},
      {"data.max_seq_length", o.data.max_seq_length, limits::kSequenceLength},
      {"data.shuffle_buffer", o.data.shuffle_buffer, limits::kShuffleBuffer},
      {"train.max_steps", o.train.max_steps, limits::kSteps},
      {"train.batch_size", o.train.batch_size, limits::kBatchSize},
      {"train.gradient_accumulation_steps", o.train.gradient_accumulation_steps, limits::kBatchSize},
      {"train.save_every", o.train.save_every, limits::kSteps},
      {"train.logging_every", o.train.logging_every, limits::kSteps},
  };
  for (const auto& b : bounded)
    if (b.value > b.limit) fail(b.key, b.value, limits::above(b.limit));
  const std::pair<const char*, int64_t> positive[] = {
      {"model.embedding_size", o.model.embedding_size},     {"model.hidden_size", o.model.hidden_size},
      {"model.num_hidden_layers", o.model.num_hidden_layers}, {"model.num_attention_heads", o.model.num_attention_heads},
      {"model.intermediate_size", o.model.intermediate_size}, {"model.max_position_embeddings", o.model.max_position_embeddings}};
  for (const auto& [key, value] : positive)
    if (value < 1) fail(key, value, "must be positive");
  if (o.model.hidden_size % o.model.num_attention_heads != 0)
    fail("model.hidden_size", o.model.hidden_size,
         fmt::format("must be a multiple of model.num_attention_heads ({})", o.model.num_attention_heads));
  if (o.model.generator_size <= 0 || o.model.generator_size > 1)
    fail("model.generator_size", o.model.generator_size, "must be in (0, 1]");
  if (o.objective.mask_prob <= 0 || o.objective.mask_prob >= 1)
    fail("objective.mask_prob", o.objective.mask_prob, "must be in (0, 1)");
  if (o.objective.mask_token_prob < 0 || o.objective.mask_token_prob > 1)
    fail("objective.mask_token_prob", o.objective.mask_token_prob, "must be in [0, 1]");
  if (o.objective.max_predictions_per_seq < 0)
    fail("objective.max_predictions_per_seq", o.objective.max_predictions_per_seq, "must not be negative");
  if (o.objective.disc_weight < 0) fail("objective.disc_weight", o.objective.disc_weight, "must not be negative");
  if (o.objective.disc_lr_scale <= 0)
    fail("objective.disc_lr_scale", o.objective.disc_lr_scale, "must be positive");
  if (o.objective.temperature <= 0) fail("objective.temperature", o.objective.temperature, "must be positive");
  if (o.data.max_seq_length < 8) fail("data.max_seq_length", o.data.max_seq_length, "must be at least 8");
  if (o.data.max_seq_length > o.model.max_position_embeddings)
    fail("data.max_seq_length", o.data.max_seq_length, "must not exceed model.max_position_embeddings");
  if (o.data.document_format != "blank_line" && o.data.document_format != "line")
    fail("data.document_format", o.data.document_format, "use blank_line or line");
  if (o.train.max_steps < 1) fail("train.max_steps", o.train.max_steps, "must be positive");
  if (o.train.batch_size < 1) fail("train.batch_size", o.train.batch_size, "must be positive");
  if (o.train.gradient_accumulation_steps < 1)
    fail("train.gradient_accumulation_steps", o.train.gradient_accumulation_steps, "must be positive");
  if (o.train.save_every < 1) fail("train.save_every", o.train.save_every, "must be positive");
  if (o.train.logging_every < 1) fail("train.logging_every", o.train.logging_every, "must be positive");
  if (o.train.seed < 0) fail("train.seed", o.train.seed, "must not be negative");
}

std::string to_yaml(const PretrainOptions& options) {
  PretrainOptions copy = options;
  return fields_to_yaml(fields(copy));
}

ElectraConfig discriminator_config(const PretrainOptions& o, int64_t vocab_size, int64_t pad_token_id) {
  ElectraConfig c = o.model;  // the config part: the options' own generator_size stays behind
  c.vocab_size = vocab_size;
  c.pad_token_id = pad_token_id;
  c.architecture = Architecture::pretraining;
  if (const std::string error = c.validation_error(); !error.empty())
    throw std::invalid_argument("pre-training model: " + error);
  return c;
}

ElectraConfig generator_config(const ElectraConfig& discriminator, double generator_size) {
  ElectraConfig g = discriminator;
  g.hidden_size = std::max<int64_t>(1, std::llround(static_cast<double>(discriminator.hidden_size) * generator_size));
  g.num_attention_heads = std::max<int64_t>(1, g.hidden_size / 64);
  g.intermediate_size = 4 * g.hidden_size;
  g.architecture = Architecture::masked_lm;
  g.raw_json.clear();
  if (const std::string error = g.validation_error(); !error.empty())
    throw std::invalid_argument(fmt::format("generator of size {}: {}", generator_size, error));
  return g;
}

int64_t max_predictions_per_seq(const PretrainOptions& o) {
  if (o.objective.max_predictions_per_seq > 0) return o.objective.max_predictions_per_seq;
  return static_cast<int64_t>((o.objective.mask_prob + 0.005) * static_cast<double>(o.data.max_seq_length));
}

}  // namespace electra
