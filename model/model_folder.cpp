#include "model/model_folder.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "common/files.h"
#include "tokenizer/model_max_length.h"
#include "tokenizer/tokenizer.h"

namespace electra {
namespace {

namespace fs = std::filesystem;

// Writes the tokenizer files of `tokenizer_dir` into `out` (see write_model_folder); `in_place`: `out` is
// `tokenizer_dir`, and only the files whose text changes (or that are new) are written.
void write_tokenizer_files(const fs::path& tokenizer_dir, const fs::path& out, int64_t positions,
                           const std::string& default_tokenizer_config, bool in_place) {
  // A source with tokenizer.json and no vocab.txt (transformers 5 saves no vocab.txt) gets a vocab.txt written
  // from tokenizer.json's vocabulary, and, without a tokenizer_config.json, one holding tokenizer.json's
  // normalization (vocab.txt alone would read as lowercased).
  const bool has_vocab_txt = fs::exists(tokenizer_dir / "vocab.txt");
  const bool json_only = !has_vocab_txt && fs::exists(tokenizer_dir / "tokenizer.json");
  if (!has_vocab_txt && !json_only) {
    if (in_place) return;
    throw std::runtime_error(fmt::format("{}: no vocab.txt (or tokenizer.json) to copy next to the saved model",
                                         tokenizer_dir.string()));
  }
  std::optional<Tokenizer> json_tokenizer;
  if (json_only) json_tokenizer.emplace(Tokenizer::from_dir(tokenizer_dir));
  // Copied as they are, except the length limits: model_max_length (written when the source has no
  // tokenizer_config.json) and tokenizer.json's truncation at most the model's positions.
  for (const char* name :
       {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "added_tokens.json"}) {
    const auto source = tokenizer_dir / name;
    const bool exists = fs::exists(source);
    if (json_only && std::string(name) == "vocab.txt") {
      write_file_atomic(out / name, json_tokenizer->vocab_txt());
      continue;
    }
    if (!exists && std::string(name) != "tokenizer_config.json") continue;
    std::string text = exists ? read_file(source) : default_tokenizer_config;
    if (!exists && json_only) {
      const TokenizerOptions& options = json_tokenizer->options();
      nlohmann::ordered_json config = {{"do_lower_case", options.do_lower_case},
                                       {"strip_accents", nullptr},
                                       {"tokenize_chinese_chars", options.tokenize_chinese_chars}};
      if (options.strip_accents) config["strip_accents"] = *options.strip_accents;
      text = config.dump(2) + "\n";
    }
    const std::string fitted = fit_tokenizer_file(name, text, positions, exists ? source : out / name);
    if (!in_place || !exists || fitted != text) write_file_atomic(out / name, fitted);
  }
}

void write_files(const fs::path& out, const ElectraConfig& config, const TensorMap& tensors,
                 const fs::path& tokenizer_dir, const std::string& default_tokenizer_config, bool in_place) {
  TensorMap cpu;
  for (const auto& [name, tensor] : tensors) cpu.emplace(name, tensor.to(at::kCPU, at::kFloat).contiguous());
  write_safetensors(out / "model.safetensors", cpu);
  write_file_atomic(out / "config.json", config.to_json_text());
  if (!tokenizer_dir.empty())
    write_tokenizer_files(tokenizer_dir, out, config.max_position_embeddings, default_tokenizer_config, in_place);
}

}  // namespace

void write_model_folder(const fs::path& dir, const ElectraConfig& config, const TensorMap& tensors,
                        const fs::path& tokenizer_dir, const std::string& default_tokenizer_config) {
  const fs::path target = dir.has_filename() ? dir : dir.parent_path();  // "out/" names "out"
  if (!tokenizer_dir.empty() && fs::exists(target) && fs::exists(tokenizer_dir) &&
      fs::equivalent(target, tokenizer_dir)) {
    write_files(target, config, tensors, tokenizer_dir, default_tokenizer_config, /*in_place=*/true);
    return;
  }
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const fs::path tmp = parent / ("." + target.filename().string() + ".tmp");
  const fs::path old = parent / ("." + target.filename().string() + ".old");
  remove_tree(tmp);
  fs::create_directories(tmp);
  try {
    write_files(tmp, config, tensors, tokenizer_dir, default_tokenizer_config, /*in_place=*/false);
  } catch (...) {
    remove_tree_noexcept(tmp);
    throw;
  }
  sync_directory(tmp);
  if (!fs::exists(target)) {
    fs::rename(tmp, target);
    sync_directory(parent);
    return;
  }
  // Exchanged in one step, so that a crash at any moment leaves the old model or the new one at `target`, never
  // neither; `tmp` then holds the old one.
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    sync_directory(parent);
    remove_tree(tmp);
    return;
  }
  if (errno != EINVAL && errno != ENOSYS)  // EINVAL: a file system without exchange (two renames instead)
    throw std::runtime_error(fmt::format("cannot replace {}: {}", target.string(), std::strerror(errno)));
  remove_tree(old);
  fs::rename(target, old);
  fs::rename(tmp, target);
  sync_directory(parent);
  remove_tree(old);
}

}  // namespace electra
