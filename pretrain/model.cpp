#include "pretrain/model.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <set>
#include <stdexcept>

#include "common/files.h"
#include "tokenizer/model_max_length.h"

namespace electra {
namespace {

TensorMap hf_state_dict(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& p : module.named_parameters(/*recurse=*/true))
    out.emplace(p.key(), p.value().detach().to(at::kCPU, at::kFloat).contiguous());
  return out;
}

namespace fs = std::filesystem;

// model_max_length and tokenizer.json's truncation at most `positions` (fit_tokenizer_file).
void write_tokenizer_files(const fs::path& vocab_dir, const fs::path& out, int64_t positions) {
  if (!fs::is_regular_file(vocab_dir / "vocab.txt"))
    throw std::runtime_error(fmt::format("{}: no vocab.txt to save beside the model", vocab_dir.string()));
  write_file_atomic(out / "vocab.txt", read_file(vocab_dir / "vocab.txt"));
  if (!fs::exists(vocab_dir / "tokenizer_config.json"))  // do_lower_case absent: true, as Hugging Face reads it
    write_file_atomic(out / "tokenizer_config.json",
                      fit_tokenizer_file("tokenizer_config.json", "{\n  \"tokenizer_class\": \"ElectraTokenizer\"\n}\n",
                                         positions, out / "tokenizer_config.json"));
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "added_tokens.json"})
    if (fs::exists(vocab_dir / name))
      write_file_atomic(out / name, fit_tokenizer_file(name, read_file(vocab_dir / name), positions, vocab_dir / name));
}

void export_model(const fs::path& dir, const ElectraConfig& config, const TensorMap& tensors,
                  const fs::path& vocab_dir) {
  const fs::path parent = dir.parent_path();
  const fs::path tmp = parent / ("." + dir.filename().string() + ".tmp");
  const fs::path old = parent / ("." + dir.filename().string() + ".old");
  remove_tree(tmp);
  fs::create_directories(tmp);
  write_safetensors(tmp / "model.safetensors", tensors);
  write_file_atomic(tmp / "config.json", config.to_json_text());
  write_tokenizer_files(vocab_dir, tmp, config.max_position_embeddings);
  sync_directory(tmp);
  remove_tree(old);
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(tmp, dir);
  sync_directory(parent);
  remove_tree(old);
}

}  // namespace

void save_pretraining_pair(const ElectraPretrainingModelImpl& model, const fs::path& dir, const fs::path& vocab_dir) {
  fs::create_directories(dir);
  export_model(dir / "discriminator", model.discriminator_config(), model.discriminator_state_dict(), vocab_dir);
  export_model(dir / "generator", model.generator_config(), model.generator_state_dict(), vocab_dir);
}

ElectraDiscriminatorImpl::ElectraDiscriminatorImpl(const ElectraConfig& c, ElectraEmbeddings shared) {
  electra = register_module("electra", ElectraEncoder(c, std::move(shared)));
  discriminator_predictions = register_module("discriminator_predictions", DiscriminatorPredictions(c));
}

at::Tensor ElectraDiscriminatorImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                             const at::Tensor& token_type_ids) {
  return discriminator_predictions(electra(input_ids, attention_mask, token_type_ids));
}

ElectraGeneratorImpl::ElectraGeneratorImpl(const ElectraConfig& c, ElectraEmbeddings shared) {
  electra = register_module("electra", ElectraEncoder(c, std::move(shared)));
  generator_predictions = register_module("generator_predictions", GeneratorPredictions(c));
  generator_lm_head = register_module("generator_lm_head", GeneratorLmHead(c.vocab_size));
}

at::Tensor ElectraGeneratorImpl::word_embedding_weight() const {
  return electra->embeddings->word_embeddings->weight;
}

at::Tensor ElectraGeneratorImpl::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                         const at::Tensor& token_type_ids, const at::Tensor& positions) {
  const at::Tensor hidden = electra(input_ids, attention_mask, token_type_ids);  // [B, T, H_g]
  const at::Tensor selected = hidden.index({positions});                         // [M, H_g]
  return at::linear(generator_predictions(selected), word_embedding_weight(), generator_lm_head->bias);
}

ElectraPretrainingModelImpl::ElectraPretrainingModelImpl(const ElectraConfig& d, const ElectraConfig& g)
    : discriminator_config_(d), generator_config_(g) {
  for (const ElectraConfig* c : {&d, &g})
    if (std::string error = c->validation_error(); !error.empty())
      throw std::invalid_argument("invalid pre-training config: " + error);
  if (g.vocab_size != d.vocab_size || g.embedding_size != d.embedding_size ||
      g.max_position_embeddings != d.max_position_embeddings || g.type_vocab_size != d.type_vocab_size ||
      g.pad_token_id != d.pad_token_id)
    throw std::invalid_argument("the generator must share the discriminator's embeddings (vocab_size, "
                                "embedding_size, max_position_embeddings, type_vocab_size, pad_token_id)");
  embeddings = ElectraEmbeddings(d);
  discriminator = register_module("discriminator", ElectraDiscriminator(d, embeddings));
  generator = register_module("generator", ElectraGenerator(g, embeddings));
  init_weights_like_hf(*discriminator, d.initializer_range);
  init_weights_like_hf(*generator, g.initializer_range);
}

std::vector<std::pair<std::string, at::Tensor>> ElectraPretrainingModelImpl::unique_named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  std::set<const void*> seen;
  for (const auto& p : named_parameters(/*recurse=*/true)) {
    if (!seen.insert(p.value().unsafeGetTensorImpl()).second) continue;
    out.emplace_back(p.key(), p.value());
  }
  return out;
}

std::vector<std::string> ElectraPretrainingModelImpl::discriminator_only_parameter_names() const {
  std::set<const void*> shared;
  for (const auto& p : embeddings->parameters(/*recurse=*/true)) shared.insert(p.unsafeGetTensorImpl());
  std::vector<std::string> out;
  for (const auto& p : discriminator->named_parameters(/*recurse=*/true))
    if (shared.count(p.value().unsafeGetTensorImpl()) == 0) out.push_back("discriminator." + p.key());
  return out;
}

TensorMap ElectraPretrainingModelImpl::discriminator_state_dict() const { return hf_state_dict(*discriminator); }

TensorMap ElectraPretrainingModelImpl::generator_state_dict() const {
  TensorMap out = hf_state_dict(*generator);
  out.emplace("generator_lm_head.weight", out.at("electra.embeddings.word_embeddings.weight").clone());
  return out;
}

}  // namespace electra
