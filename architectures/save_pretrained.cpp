#include <ATen/ATen.h>

#include "architectures/checkpoints.h"
#include "architectures/electra_model.h"
#include "model/model_folder.h"

namespace electra {

void save_pretrained(const ElectraModel& model, const std::filesystem::path& dir,
                     const std::filesystem::path& tokenizer_dir) {
  write_model_folder(dir, model.config(), model.state_dict(), tokenizer_dir);
}

void write_initialized_model(const ElectraConfig& config, const std::filesystem::path& dir,
                             const std::filesystem::path& tokenizer_dir, uint64_t seed) {
  at::manual_seed(seed);
  const ElectraModel model(config);
  save_pretrained(model, dir, tokenizer_dir);
}

}  // namespace electra
