// Typed options of one pre-training run (`electra pretrain`), resolved as defaults < YAML file < flags / `--set`.
// The YAML key of a field is its dotted path (`objective.mask_prob`), the same spelling as the struct field and the
// flag. The defaults are ELECTRA-Small's (google-research/electra configure_pretraining.py and the paper).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "model/config.h"
#include "train/options.h"

namespace electra {

// The discriminator's shape and initialisation: ElectraConfig's own fields (its defaults are ELECTRA-Small's), ten of
// them model.* keys; discriminator_config() sets vocab_size, pad_token_id and the architecture.
struct PretrainModelOptions : ElectraConfig {
  // Generator width as a fraction of the discriminator's: H_g = round(H * generator_size), I_g = 4 H_g,
  // A_g = max(1, H_g / 64) (google's get_generator_config); same E and layers.
  double generator_size = 0.25;
};

struct ObjectiveOptions {
  double mask_prob = 0.15;              // fraction of the maskable tokens of a sequence that are predicted
  int64_t max_predictions_per_seq = 0;  // 0: int((mask_prob + 0.005) * data.max_seq_length), as google's
  double mask_token_prob = 0.85;        // of the chosen tokens, the fraction that becomes [MASK] (the rest stay)
  double disc_weight = 50.0;            // lambda: loss = mlm + disc_weight * rtd
  // Learning-rate multiplier of the parameters only the discriminator has (its encoder layers, embedding projection
  // and head; not the shared embeddings). 1 = google's single learning rate.
  double disc_lr_scale = 1.0;
  double temperature = 1.0;             // replacements drawn from softmax(generator logits / temperature)
  bool disallow_correct = false;        // never draw the original token (every chosen position is replaced)
};

struct PretrainDataOptions {
  std::vector<std::string> corpus;   // text files or prepared shard folders (--corpus)
  int64_t max_seq_length = 128;
  std::string document_format = "blank_line";  // blank_line | line
  bool split_sentences = true;
  double short_seq_prob = 0.05;
  double single_segment_prob = 0.1;
  int64_t shuffle_buffer = 10000;
};

struct PretrainTrainOptions {
  int64_t max_steps = 1000000;              // optimizer steps of the run
  int64_t batch_size = 128;                 // global examples per optimizer step
  int64_t gradient_accumulation_steps = 1;  // micro-batches per step (per rank)
  int64_t save_every = 10000;               // steps between training states + exports
  int64_t logging_every = 100;              // steps between metrics.jsonl lines
  int64_t seed = 42;
  // Writes what the first step computed, for a comparison with another implementation
  // (tests/hf/train_parity.py): initial/discriminator and initial/generator (the weights before it, Hugging Face
  // layout) and first_step.safetensors (per micro-batch m: input_ids.m, attention_mask.m, token_type_ids.m,
  // masked_input_ids.m, positions.m, discriminator_input.m; the losses mlm_loss, rtd_loss, loss; and grad.<name>,
  // every parameter's gradient before clipping, named as the training state names it).
  bool dump_first_step = false;
};

struct PretrainOptions {
  std::string vocab;       // folder with vocab.txt (+ tokenizer_config.json); vocab_size comes from it
  std::string output_dir;  // run directory
  std::string device = "cpu";  // cpu | cuda | auto
  PretrainModelOptions model;
  ObjectiveOptions objective;
  PretrainDataOptions data;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  PretrainTrainOptions train;
  std::vector<std::string> warnings;  // what loading noticed (never written back)
};

// Loads `file` over the defaults (when not empty), then applies `key=value` assignments. Unknown keys, wrong
// types and bad values throw std::invalid_argument naming the file (and line) or "--set", and the key.
PretrainOptions load_pretrain_options(const std::filesystem::path& file, const std::vector<std::string>& sets = {});
void apply_pretrain_setting(PretrainOptions& options, const std::string& assignment);
// Range checks of the whole struct; throws std::invalid_argument naming the key.
void validate_pretrain_options(const PretrainOptions& options);
// Every key, YAML; load_pretrain_options() of it gives the same options.
std::string to_yaml(const PretrainOptions& options);

// The discriminator's config for a vocabulary of `vocab_size` entries (ElectraForPreTraining) and the generator's
// derived from it (ElectraForMaskedLM).
ElectraConfig discriminator_config(const PretrainOptions& options, int64_t vocab_size, int64_t pad_token_id);
ElectraConfig generator_config(const ElectraConfig& discriminator, double generator_size);
int64_t max_predictions_per_seq(const PretrainOptions& options);

}  // namespace electra
