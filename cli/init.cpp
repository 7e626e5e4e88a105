// electra init: a randomly initialised ELECTRA in Hugging Face's layout, from a named size (or a config.json) and a
// vocabulary, so that a model can be made without a hub or Python.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "architectures/checkpoints.h"
#include "cli/commands.h"
#include "common/files.h"
#include "common/folder_lock.h"
#include "model/config.h"
#include "common/memory_limit.h"
#include "tokenizer/model_max_length.h"
#include "tokenizer/tokenizer.h"

namespace electra::cli {
namespace {

namespace fs = std::filesystem;

struct InitArgs {
  std::string config;  // tiny | small | base | a config.json file
  std::string vocab;   // vocab.txt, or a folder holding it (and maybe tokenizer_config.json)
  std::string output;
  std::string casing;  // "", "cased", "uncased"
  int64_t seed = 42;
  bool overwrite = false;  // replace a model or vocabulary --output holds
};

// Files of an earlier model that init does not write and a loader would read instead of, or beside, the new one.
constexpr const char* kStaleModelFiles[] = {"pytorch_model.bin", "pytorch_model.bin.index.json",
                                            "model.safetensors.index.json", "tokenizer.json"};

ElectraConfig base_config(const std::string& name) {
  const fs::path file(name);
  if (fs::is_regular_file(file)) {
    ElectraConfig c = ElectraConfig::from_file(file);
    c.architecture = Architecture::model;  // a fresh encoder: heads come with fine-tuning
    c.id2label.clear();
    c.problem_type.clear();
    return c;
  }
  if (name.find('/') != std::string::npos || name.find(".json") != std::string::npos) {
    throw std::invalid_argument(fmt::format("--config: {} is not a file", name));
  }
  return preset_config(name);
}

void run_init(const InitArgs& args) {
  const fs::path vocab_source = fs::is_directory(args.vocab) ? fs::path(args.vocab) / "vocab.txt" : fs::path(args.vocab);
  if (!fs::is_regular_file(vocab_source)) {
    throw std::invalid_argument(fmt::format("--vocab: {} is not a vocab.txt file (or a folder holding one)",
                                            vocab_source.string()));
  }
  const fs::path out(args.output);
  const auto check_output = [&] {
    if (args.overwrite) return;
    for (const char* name : {"config.json", "model.safetensors", "pytorch_model.bin"}) {
      if (fs::exists(out / name)) {
        throw std::invalid_argument(fmt::format(
            "--output: {} already holds a model ({}); choose another folder, or --overwrite to replace it",
            out.string(), name));
      }
    }
    // The folder `electra vocab` wrote may receive the model (init --vocab V --output V), but another vocabulary
    // there would be replaced without a trace.
    if (fs::is_regular_file(out / "vocab.txt") && read_file(out / "vocab.txt") != read_file(vocab_source)) {
      throw std::invalid_argument(fmt::format("--output: {} already holds another vocabulary ({}); choose another "
                                              "folder, or --overwrite to replace it",
                                              out.string(), (out / "vocab.txt").string()));
    }
  };
  // The vocabulary decides vocab_size and the pad id; the config and its memory are checked before anything is
  // written.
  ElectraConfig config = base_config(args.config);

  const Tokenizer source_tokenizer = Tokenizer::from_files(vocab_source, std::nullopt);
  config.vocab_size = source_tokenizer.vocab_size();
  if (source_tokenizer.pad_id() >= 0) config.pad_token_id = source_tokenizer.pad_id();
  if (const std::string problem = config.validation_error(); !problem.empty()) {
    throw std::invalid_argument(fmt::format("--config {}: {}", args.config, problem));
  }
  // A model the memory cannot hold would end in the kernel's OOM killer (or a failed allocation), not in an error;
  // refused before the folder is made. The limit: common/memory_limit.h (cgroup, RLIMIT_AS, MemAvailable).
  const double bytes = config.parameter_count() * 4;
  if (const MemoryHeadroom room = memory_headroom(); room.bytes >= 0 && bytes > static_cast<double>(room.bytes)) {
    throw std::invalid_argument(fmt::format(
        "--config {}: the model it describes has {:.3g} parameters ({} in float32), more than the {} this process "
        "may still use ({}); nothing was written",
        args.config, config.parameter_count(), format_bytes(bytes), format_bytes(static_cast<double>(room.bytes)),
        room.detail));
  }

  check_output();
  const FolderLock lock = FolderLock::acquire(out, "init");
  check_output();  // again: another run may have written it before we held it
  fs::create_directories(out);
  if (args.overwrite) {
    for (const char* name : kStaleModelFiles) {
      if (fs::exists(out / name)) {
        fs::remove(out / name);
        fmt::print("--overwrite: removed {} (the replaced model's)\n", (out / name).string());
      }
    }
  }
  write_file_atomic(out / "vocab.txt", read_file(vocab_source));
  const fs::path source_config = vocab_source.parent_path() / "tokenizer_config.json";
  nlohmann::json tokenizer_config = fs::is_regular_file(source_config)
                                        ? nlohmann::json::parse(read_file(source_config), nullptr, false)
                                        : nlohmann::json::object();
  if (!tokenizer_config.is_object()) {
    throw std::runtime_error(fmt::format("{}: not a JSON object", source_config.string()));
  }
  if (!args.casing.empty()) tokenizer_config["do_lower_case"] = args.casing == "uncased";
  if (!tokenizer_config.contains("do_lower_case")) tokenizer_config["do_lower_case"] = true;  // BertTokenizer's default
  tokenizer_config["tokenizer_class"] = config.family().tokenizer_class;
  // model_max_length at most the model's positions, so that Hugging Face's truncation fits the model
  write_file_atomic(out / "tokenizer_config.json",
                    fit_tokenizer_file("tokenizer_config.json", tokenizer_config.dump(2) + "\n",
                                       config.max_position_embeddings, source_config));
  write_initialized_model(config, out, out, static_cast<uint64_t>(args.seed));
  const CheckpointSummary summary = summarize_checkpoint(out);
  fmt::print("wrote {}: {} E={} H={} L={} A={} I={}, vocab {} ({}), {} parameters, seed {}\n", out.string(),
             config.hf_class(),
             config.embedding_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
             config.intermediate_size, config.vocab_size,
             tokenizer_config["do_lower_case"].get<bool>() ? "uncased" : "cased",
             summary.embedding_parameters + summary.encoder_parameters + summary.head_parameters, args.seed);
}

}  // namespace

void add_init_command(CLI::App& app) {
  auto args = std::make_shared<InitArgs>();
  auto* cmd = app.add_subcommand("init", "Write a randomly initialised ELECTRA (Hugging Face layout) for a vocabulary");
  cmd->add_option("--config", args->config,
                  fmt::format("Model size ({}) or a config.json file", fmt::join(preset_config_names(), ", ")))
      ->required();
  cmd->add_option("--vocab", args->vocab, "vocab.txt, or a folder holding vocab.txt (+ tokenizer_config.json)")
      ->required();
  cmd->add_option("--output", args->output, "Folder to write (must not hold a model yet, unless --overwrite)")
      ->required();
  cmd->add_flag("--overwrite", args->overwrite,
                "Replace the model and vocabulary --output holds (its other files stay)");
  auto* cased = cmd->add_flag_callback("--cased", [args] { args->casing = "cased"; },
                                       "Keep case and accents (do_lower_case false; KoELECTRA's vocabularies)");
  cmd->add_flag_callback("--uncased", [args] { args->casing = "uncased"; }, "Lowercase and strip accents")
      ->excludes(cased);
  cmd->add_option("--seed", args->seed, "Seed of the random initialisation")->capture_default_str();
  cmd->callback([args] { run_init(*args); });
}

}  // namespace electra::cli
