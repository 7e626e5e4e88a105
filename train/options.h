// Typed options of one fine-tuning experiment, resolved as defaults < YAML file(s) < `--set key=value`.
// The YAML key of a field is its dotted path (`optimizer.learning_rate`), the same spelling as the struct field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace electra {

struct FieldTable;

struct DatasetOptions {
  std::string data_dir;            // folder with the task's upstream files; empty: the hub's task data folder
  int64_t max_seq_length = 128;    // tokens per feature, specials included
  int64_t doc_stride = 128;        // span extraction: stride of the sliding windows
  int64_t max_query_length = 64;   // span extraction: question tokens kept
  double dev_from_train = 0.0;     // > 0: carve this fraction of train into a dev split (fixed seed)
  int64_t max_train_examples = 0;  // > 0: only the first this many train examples (file order), before any carve
  bool swap_pairs = false;         // also train on every pair with its two sentences swapped (ELECTRA MRPC/STS)
  bool skip_bad_rows = false;      // skip (and count) malformed rows instead of stopping at the first
  // batches are padded to the smallest multiple of this that holds them; 0: automatic, 1 on the CPU (pad to the
  // longest: the fewest FLOPs) and 8 on CUDA (tensor-core friendly shapes)
  int64_t bucket_multiple = 0;
};

struct OptimizerOptions {
  double learning_rate = 5e-5;
  double weight_decay = 0.0;        // decoupled (AdamW); never on biases and LayerNorm weights
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;       // <= 0: no clipping
  double layerwise_lr_decay = 1.0;  // lr(depth) = lr * decay^(L + 1 - depth); 1: off
  bool fused = true;                // CUDA + LibTorch 2: PyTorch's fused AdamW kernel (one launch per group)
};

struct ScheduleOptions {
  std::string name = "linear";  // linear (warmup + linear decay to 0), constant (after warmup), cosine
  double warmup_ratio = 0.0;    // fraction of the optimizer steps; used when warmup_steps is 0
  int64_t warmup_steps = 0;
};

struct TrainOptions {
  double epochs = 3.0;
  int64_t max_steps = 0;                    // > 0: stop after this many optimizer steps (overrides epochs)
  int64_t batch_size = 32;                  // examples per optimizer step (before accumulation split)
  int64_t gradient_accumulation_steps = 1;  // micro-batches of batch_size / this, summed before one step
  // `train.gradient_accumulation_steps: auto` (or its shorthand `train.batch_size: auto`, which keeps the batch size
  // the key had): batch_size examples per step stay, and the micro-batch is the largest divisor of batch_size that
  // fits in memory (train/memory_preflight.h); gradient_accumulation_steps is then chosen, not set.
  bool accumulation_auto = false;
  int64_t eval_batch_size = 64;
  int64_t eval_every = 0;                   // optimizer steps between dev evaluations (0: only at epoch ends)
  bool eval_each_epoch = true;
  bool select_best = true;                  // true: keep the best dev checkpoint; false: the last step's model
  int64_t save_every = 500;                 // optimizer steps between resumable training-state checkpoints
  int64_t logging_every = 50;               // optimizer steps between metrics.jsonl lines
  int64_t early_stopping_patience = 0;      // > 0: stop after this many evaluations without improvement
  bool bf16 = false;                        // CUDA only: bf16 autocast for forward passes
  bool tf32 = false;                        // CUDA only: TF32 tensor cores for fp32 matrix products
  // Writes what the run trained from and on, for replay by another implementation (tests/hf/train_parity.py):
  // initial/ (the weights at step 0, head included), features_train.jsonl, batches.jsonl (per optimizer step: lr
  // and each micro-batch's feature indices and padded length) and features_<split>.jsonl for each scored split.
  bool dump_batches = false;
};

struct ExperimentOptions {
  std::string model;             // local HF checkpoint directory or hub id
  std::string task;              // registry name (nsmc, korsts, mrpc, ...)
  std::string output_dir;        // run directory; empty: runs/<task>
  std::vector<int64_t> seeds{42};  // one run per seed; several: median reported
  std::string device = "cpu";    // cpu | cuda | auto
  DatasetOptions data;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  TrainOptions train;
  // What loading the files noticed and the user should read (not options: never written to config.yaml).
  std::vector<std::string> warnings;
};

// Loads `file` (and the `base:` files it names, relative to itself, base first) over the defaults, then applies
// `key=value` assignments. Unknown keys, wrong types and bad values throw std::invalid_argument naming the key,
// the value and the file (or "--set").
ExperimentOptions load_experiment(const std::filesystem::path& file, const std::vector<std::string>& sets = {});
// Applies one `key=value` (value in YAML syntax) to `options`.
void apply_setting(ExperimentOptions& options, const std::string& assignment);
// Range checks that need the whole struct (batch size divisible by accumulation steps, ...).
void validate(const ExperimentOptions& options);
// The resolved options as YAML, every key present; load_experiment() of it gives the same options.
std::string to_yaml(const ExperimentOptions& options);

// The keys fine-tuning and pre-training share, appended to `table`: output_dir, device, optimizer.* and schedule.*
// (optimizer.layerwise_lr_decay only when `layerwise_lr_decay`: pre-training's AdamW has no layer scale).
void add_shared_fields(FieldTable& table, std::string& output_dir, std::string& device, OptimizerOptions& optimizer,
                       ScheduleOptions& schedule, bool layerwise_lr_decay);
// Their range checks; throws std::invalid_argument naming the key and its value.
void validate_shared_options(const std::string& device, const OptimizerOptions& optimizer,
                             const ScheduleOptions& schedule);

}  // namespace electra
