#include "pretrain/pretrain_memory.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

namespace electra {

MemoryEstimate pretrain_estimate(const PretrainOptions& options, int64_t vocab_size, int world, double baseline) {
  const ElectraConfig disc = discriminator_config(options, vocab_size, 0);
  const ElectraConfig gen = generator_config(disc, options.model.generator_size);
  const PretrainTrainOptions& t = options.train;
  const int64_t per_rank = t.batch_size / std::max(1, world);
  const int64_t micro = std::max<int64_t>(1, (per_rank + t.gradient_accumulation_steps - 1) /
                                                 t.gradient_accumulation_steps);
  MemoryEstimate e = pretrain_memory(disc, gen, static_cast<double>(micro),
                                     static_cast<double>(options.data.max_seq_length),
                                     static_cast<double>(max_predictions_per_seq(options)), options.device == "cuda", false,
                                     baseline);
  e.model_keys = fmt::format("model.hidden_size={}, model.num_hidden_layers={}, model.intermediate_size={}, "
                             "model.generator_size={} (a vocabulary of {})",
                             disc.hidden_size, disc.num_hidden_layers, disc.intermediate_size,
                             options.model.generator_size, vocab_size);
  e.train_keys = fmt::format("train.batch_size={}, train.gradient_accumulation_steps={}, data.max_seq_length={}",
                             t.batch_size, t.gradient_accumulation_steps, options.data.max_seq_length);
  return e;
}

std::string pretrain_memory_comment(const PretrainOptions& options) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::is_directory(options.vocab) ? fs::path(options.vocab) : fs::path(options.vocab).parent_path();
  std::ifstream vocab(dir / "vocab.txt");
  if (options.vocab.empty() || !vocab)
    return "# memory: estimated when the run starts (no vocab.txt at `vocab` yet; docs/memory.md)\n";
  int64_t entries = 0;
  for (std::string line; std::getline(vocab, line);) ++entries;
  const MemoryEstimate e = pretrain_estimate(options, entries, 1, typical_baseline_bytes());
  const MemoryHeadroom room = memory_headroom();
  return fmt::format("# memory: {}\n#   one process; the CPU may add {} ({})\n", e.describe(),
                     room.bytes < 0 ? "any amount" : format_bytes(static_cast<double>(room.bytes)),
                     room.bytes < 0 ? "no limit found" : room.detail);
}

}  // namespace electra
