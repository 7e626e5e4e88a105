// `electra pretrain`: ELECTRA replaced-token-detection pre-training from a YAML config, a corpus and a vocabulary;
// `--prepare DIR` tokenizes and packs the corpus into shards once instead.
#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/folder_lock.h"
#include "common/stop_signal.h"
#include "corpus/pretraining_data.h"
#include "dist/environment.h"
#include "dist/launch.h"
#include "pretrain/options.h"
#include "pretrain/pretrainer.h"
#include "pretrain/pretrain_memory.h"
#include "train/run_dir.h"
#include "tokenizer/tokenizer.h"

namespace electra::cli {
namespace {

namespace fs = std::filesystem;

struct PretrainArgs {
  std::string config;
  std::vector<std::string> corpus;
  std::string vocab;
  std::string output_dir;
  std::vector<std::string> sets;
  std::string resume;
  std::string prepare;
  std::string device;
  bool dump_config = false;
  bool force = false;
  int64_t stop_after = 0;
  int nproc = 1;
  DistOptions dist;
};

PretrainOptions resolve(const PretrainArgs& args) {
  if (!args.resume.empty() && !args.config.empty())
    throw std::invalid_argument("give either --config FILE or --resume RUN_DIR (a run resumes with its own config.yaml)");
  fs::path file = args.config;
  if (!args.resume.empty()) {
    file = fs::path(args.resume) / "config.yaml";
    if (!fs::exists(file)) throw std::invalid_argument(fmt::format("--resume: {} does not exist", file.string()));
  }
  PretrainOptions options = load_pretrain_options(file, {});
  if (read_dist_env().rank == 0)
    for (const auto& w : options.warnings) fmt::print(stderr, "electra: warning: {}\n", w);
  if (!args.corpus.empty()) options.data.corpus = args.corpus;
  if (!args.vocab.empty()) options.vocab = args.vocab;
  if (!args.output_dir.empty()) options.output_dir = args.output_dir;
  if (!args.device.empty()) options.device = args.device;
  for (const auto& s : args.sets) apply_pretrain_setting(options, s);
  if (!args.resume.empty()) options.output_dir = args.resume;
  validate_pretrain_options(options);
  return options;
}

void run_prepare(const PretrainArgs& args, const PretrainOptions& options) {
  if (options.data.corpus.empty()) throw std::invalid_argument("--prepare needs --corpus FILE...");
  if (options.vocab.empty()) throw std::invalid_argument("--prepare needs --vocab DIR");
  const fs::path vocab = fs::is_directory(options.vocab) ? fs::path(options.vocab) : fs::path(options.vocab).parent_path();
  const Tokenizer tokenizer = Tokenizer::from_dir(vocab);
  const ShardSummary summary = prepare_shards(tokenizer, corpus_options(options), args.prepare);
  fmt::print("wrote {}: {} shards, {} examples, {} tokens from {} documents ({} lines)\n", summary.dir.string(),
             summary.shards, summary.examples, summary.tokens, summary.documents, summary.lines);
}

void run_pretrain(const PretrainArgs& args) {
  // One run per folder: a resumed run's folder is locked before its config.yaml is read; ranks other than 0 write
  // nothing there.
  RunFolderLock lock(read_dist_env().rank == 0 && !args.dump_config, args.resume, "pretrain");
  const PretrainOptions options = resolve(args);
  if (args.dump_config) {
    fmt::print("{}{}", to_yaml(options), pretrain_memory_comment(options));
    return;
  }
  if (!args.prepare.empty()) {
    const FolderLock prepare_lock = FolderLock::acquire(args.prepare, "pretrain --prepare");
    install_stop_handlers();  // a signal stops it and leaves the folder's earlier corpus as it was
    run_prepare(args, options);
    return;
  }
  lock.acquire(options.output_dir);
  install_stop_handlers();
  PretrainControl control;
  // The same command again resumes its run (a requeued job script, a rerun after Ctrl-C).
  control.resume = !args.resume.empty() || same_command_resumes(options.output_dir, to_yaml(options));
  control.stop_after_steps = args.stop_after;
  control.force = args.force;
  control.comm = connect(read_dist_env(), args.dist, options.device == "cuda");
  const PretrainOutcome outcome = run_pretraining(options, control);
  std::fflush(stderr);
  if (outcome.stopped_by != 0) throw StoppedBySignal(outcome.stopped_by);
  if (read_dist_env().rank != 0 || outcome.already_finished) return;
  fmt::print("{}: {} steps{}, loss {:.4f}, {:.0f} tokens/s; discriminator in {}, generator in {}\n",
             outcome.output_dir.string(), outcome.steps, outcome.finished ? "" : " (stopped early; --resume continues)",
             outcome.last_loss, outcome.tokens_per_second, (outcome.output_dir / "discriminator").string(),
             (outcome.output_dir / "generator").string());
}

}  // namespace

void add_pretrain_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("pretrain", "Pre-train an ELECTRA generator + discriminator (replaced-token detection)");
  auto args = std::make_shared<PretrainArgs>();
  cmd->add_option("--config", args->config, "Pre-training YAML (configs/pretrain/{tiny,small,base}.yaml)");
  cmd->add_option("--corpus", args->corpus,
                  "Text files (blank line between documents) or prepared shard folders (overrides `data.corpus`)");
  cmd->add_option("--vocab", args->vocab, "Folder with vocab.txt (+ tokenizer_config.json) (overrides `vocab`)");
  cmd->add_option("--output-dir", args->output_dir, "Run directory (overrides `output_dir`)");
  cmd->add_option("--set", args->sets, "Override one key: --set train.max_steps=1000 (repeatable)");
  cmd->add_flag("--dump-config", args->dump_config, "Print the resolved config as YAML and exit");
  cmd->add_option("--device", args->device, "cpu | cuda | auto (overrides `device`)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  cmd->add_option("--resume", args->resume, "Continue the interrupted run in RUN_DIR");
  cmd->add_flag("--force", args->force,
                "Start even when the memory estimate exceeds what this process may use (docs/memory.md)");
  cmd->add_option("--prepare", args->prepare,
                  "Tokenize and pack the corpus into shards in this folder (then pass it as --corpus) and exit");
  cmd->add_option("--stop-after", args->stop_after, "Save and stop after this step (resume later with --resume)")
      ->check(step_number())
      ->check(at_most(limits::kSteps));
  cmd->add_option("--nproc", args->nproc, "Start N local ranks (data-parallel; train.batch_size stays the global batch)")
      ->check(within(int64_t{1}, limits::kProcesses));
  cmd->add_option("--dist-backend", args->dist.backend, "Data-parallel backend: auto | gloo | nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}));
  cmd->add_option("--dist-timeout", args->dist.timeout_s, "Seconds a rank waits for the others")
      ->check(at_most(limits::kTimeoutSeconds))
      ->check(CLI::PositiveNumber);
  cmd->callback([args] {
    if (!args->dump_config && args->prepare.empty() && launch_nproc(args->nproc, args->dist.timeout_s)) return;
    run_pretrain(*args);
  });
}

}  // namespace electra::cli
